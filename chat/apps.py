from django.apps import AppConfig


class ChatConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chat"
    verbose_name = "Assistants"

    def ready(self) -> None:
        from core.modules import Module, register

        register(
            Module(
                "assistants",
                "Assistants",
                "chat:home",
                "Posez vos questions aux assistants de la ville",
                order=10,
            )
        )
        register(
            Module(
                "assistants_console",
                "Console des assistants",
                "chat:console",
                "Créer et régler les assistants, suivre leur usage",
                permissions=("chat.change_assistant",),
                order=91,
            )
        )
