from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"
    verbose_name = "Assistance informatique"

    def ready(self) -> None:
        from ai.sources import app
        from core.modules import Module, register
        from helpdesk import indexing

        register(
            Module(
                "helpdesk",
                "Assistance informatique",
                "helpdesk:tickets",
                "Vos demandes à la DSI ; pour les techniciens, les tickets à traiter",
                order=6,
            )
        )
        register(
            Module(
                "helpdesk_imports",
                "Imports helpdesk",
                "helpdesk:import_list",
                "Importer les tickets et articles passés (GLPI, CSV, XLSX)",
                permissions=("helpdesk.view_importjob",),
                order=820,
            )
        )

        app.register(
            "helpdesk.articles",
            "Assistance informatique : articles pour les agents",
            indexing.agent_articles,
        )
        app.register(
            "helpdesk.technicians",
            "Assistance informatique : tickets résolus et notes des techniciens",
            indexing.technician_knowledge,
        )
