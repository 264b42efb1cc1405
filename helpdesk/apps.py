from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "helpdesk"
    verbose_name = "Assistance informatique"

    def ready(self) -> None:
        from ai.sources import app
        from helpdesk import indexing

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
