from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _schedules_after_migrate(sender, **kwargs) -> None:
    from helpdesk.services import ensure_schedules

    ensure_schedules()


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"
    verbose_name = "Assistance informatique"

    def ready(self) -> None:
        from ai.sources import app
        from core.modules import Module, register
        from helpdesk import indexing

        post_migrate.connect(
            _schedules_after_migrate, sender=self, dispatch_uid="helpdesk_schedules"
        )

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

        register(
            Module(
                "helpdesk_dashboard",
                "Tableau de bord DSI",
                "helpdesk:dashboard",
                "Hausses inhabituelles de tickets, tickets évités par l'assistant",
                permissions=("helpdesk.view_dashboard",),
                order=821,
            )
        )

        app.register(
            "helpdesk.articles",
            "Assistance informatique : articles pour les agents",
            indexing.agent_articles,
            visible=indexing.readable,
        )
        app.register(
            "helpdesk.technicians",
            "Assistance informatique : tickets résolus et notes des techniciens",
            indexing.technician_knowledge,
            visible=indexing.readable,
        )
