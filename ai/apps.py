from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _schedules_after_migrate(sender, **kwargs) -> None:
    from ai.services import ensure_schedules

    ensure_schedules()


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = "Intelligence artificielle"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.modules import Module, register

        post_migrate.connect(_schedules_after_migrate, sender=self, dispatch_uid="ai_schedules")

        register(
            Module(
                "recherche",
                "Recherche",
                "ai:search",
                "Cherchez dans tous les documents auxquels vous avez accès.",
                order=5,
            )
        )
        register(
            Module(
                "console_ia",
                "Console IA",
                "ai:console",
                "Bases de connaissances, sources, indexation et contrôle des droits.",
                permissions=("ai.change_collection",),
                order=800,
            )
        )
