"""Create or rotate the API token of an agent, printed once (or revoke it).

    python manage.py api_token camille.agent@ville.example
    python manage.py api_token camille.agent@ville.example --revoke

The token opens the DRF API (`Authorization: Token <key>` or `Bearer <key>`) and the
OpenAI-compatible API (`Bearer <key>`) with exactly the agent's rights. Rotating replaces the
previous token, which stops working at once.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from core import audit


class Command(BaseCommand):
    help = "Crée (ou remplace) le jeton d'API d'un agent et l'affiche une seule fois."

    def add_arguments(self, parser):
        parser.add_argument("email", help="Adresse e-mail de l'agent.")
        parser.add_argument(
            "--revoke", action="store_true", help="Révoquer le jeton sans en créer de nouveau."
        )

    def handle(self, *args, email: str, revoke: bool, **options):
        users = list(get_user_model().objects.filter(email__iexact=email.strip()))
        if not users:
            raise CommandError(f"Aucun compte n'a l'adresse {email}.")
        if len(users) > 1:
            raise CommandError(f"Plusieurs comptes ont l'adresse {email} : corrigez l'annuaire.")
        user = users[0]
        if not revoke and not user.is_active:
            raise CommandError(f"Le compte {email} est désactivé.")
        with transaction.atomic():
            revoked = Token.objects.filter(user=user).delete()[0] > 0
            token = None
            if not revoke:
                token = Token.objects.create(user=user)
            audit.record(
                "api.token_revoked" if revoke else "api.token_issued",
                actor_label="commande api_token",
                target=user,
                details={"replaced": revoked} if not revoke else {"revoked": revoked},
            )
        if token is None:
            message = "Jeton révoqué." if revoked else "Cet agent n'avait pas de jeton."
            self.stdout.write(message)
            return
        if revoked:
            self.stderr.write("L'ancien jeton est révoqué.")
        self.stderr.write(
            f"Jeton d'API de {user.email} (affiché une seule fois, à transmettre de façon sûre) :"
        )
        self.stdout.write(token.key)
