from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Organisation et portail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import signals  # noqa: F401  (connects the audit receivers)
        from core.modules import Module, register

        # Roles must exist as soon as the schema does, on every database, demo or not.
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="core_roles")

        register(Module("home", "Accueil", "core:home", "Votre portail", order=0))
        register(
            Module(
                "annuaire",
                "Annuaire",
                "core:directory",
                "Les directions et services de la ville, et leurs agents.",
                permissions=("core.view_direction",),
                order=10,
            )
        )
        register(
            Module(
                "actualites",
                "Actualités",
                "core:announcement_list",
                "Les actualités des directions.",
                permissions=("core.view_announcement",),
                order=20,
            )
        )
        register(
            Module(
                "audit",
                "Journal d'audit",
                "core:audit_log",
                "Connexions, refus d'accès et actions sensibles.",
                permissions=("core.view_auditevent",),
                order=900,
            )
        )
        register(
            Module(
                "admin",
                "Administration",
                "admin:index",
                "Directions, comptes, affectations et rôles.",
                staff_only=True,
                order=990,
            )
        )


def _sync_roles_after_migrate(sender, using="default", **kwargs) -> None:
    from core.services import sync_roles

    sync_roles(using=using)
