from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _schedules_after_migrate(sender, **kwargs) -> None:
    from chat.services import ensure_schedules

    ensure_schedules()


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"
    verbose_name = "Assistants"

    def ready(self) -> None:
        from core.modules import Module, register

        # The purge of citizens' conversations must be scheduled wherever the schema exists.
        post_migrate.connect(_schedules_after_migrate, sender=self, dispatch_uid="chat_schedules")

        register(
            Module(
                "assistants",
                "Assistants",
                "chat:home",
                "Posez vos questions aux assistants de la ville",
                order=3,
            )
        )
        register(
            Module(
                "assistants_console",
                "Console des assistants",
                "chat:console",
                "Créer et régler les assistants, suivre leur usage",
                permissions=("chat.change_assistant",),
                order=801,
            )
        )
