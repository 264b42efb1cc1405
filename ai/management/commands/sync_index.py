from django.core.management.base import BaseCommand

from ai.index_sync import sync_pending


class Command(BaseCommand):
    help = "Pousse vers Qdrant les passages et suppressions en attente (hors serveur web)."

    def handle(self, *args, **options) -> None:
        result = sync_pending()
        self.stdout.write(
            self.style.SUCCESS(
                f"{result['upserted']} passages envoyés, {result['ops']} opérations appliquées."
            )
        )
