from django.core.management.base import BaseCommand

from ai.index_sync import reindex


class Command(BaseCommand):
    help = (
        "Reconstruit l'index Qdrant à partir des passages enregistrés en base, sans recalculer "
        "les vecteurs. En mode local, arrêtez d'abord le serveur web (il détient le dossier)."
    )

    def handle(self, *args, **options) -> None:
        result = reindex()
        self.stdout.write(self.style.SUCCESS(f"Index reconstruit : {result['upserted']} passages."))
