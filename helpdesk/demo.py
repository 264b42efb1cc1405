"""Demo helpdesk for `manage.py seed_demo`: categories, articles, a few resolved tickets, the
two knowledge bases fed by the helpdesk, and the self-service and technician assistants."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from ai import services as ai_services
from ai.models import Collection, Source
from chat.models import Assistant
from core.models import Direction, User, Visibility
from core.roles import TECHNICIEN_DSI
from helpdesk.models import Article, Category, Ticket

CATEGORIES = {
    "Matériel": ["Imprimantes", "Postes de travail", "Téléphonie"],
    "Comptes et accès": ["Mots de passe", "Droits d'accès"],
    "Réseau": ["VPN", "Wi-Fi"],
    "Logiciels": ["Messagerie", "Applications métier"],
}

# title, category, audience, body
ARTICLES = [
    (
        "Imprimante : bourrage papier ou « impression en attente »",
        "Imprimantes",
        Article.Audience.AGENTS,
        "1. Ouvrez le capot avant du copieur et retirez la feuille coincée.\n"
        "2. Éteignez puis rallumez le copieur.\n"
        "3. Sur votre poste, ouvrez « Imprimantes et scanners », choisissez la file de votre "
        "étage et cliquez sur « Ouvrir la file d'attente », puis « Annuler tous les documents ».\n"
        "4. Relancez l'impression. Si le copieur affiche un code d'erreur, notez-le pour le "
        "ticket.",
    ),
    (
        "Mot de passe expiré ou compte verrouillé",
        "Mots de passe",
        Article.Audience.AGENTS,
        "Après cinq erreurs, le compte est verrouillé pendant 15 minutes. Passé ce délai, "
        "utilisez « Mot de passe oublié » sur la page de connexion : un lien arrive sur votre "
        "adresse professionnelle. Le nouveau mot de passe doit compter au moins douze "
        "caractères.",
    ),
    (
        "Se connecter au VPN en télétravail",
        "VPN",
        Article.Audience.AGENTS,
        "Lancez le client VPN, choisissez le profil « Mairie - télétravail » et saisissez "
        "votre identifiant de session. Si la connexion échoue, vérifiez d'abord votre accès à "
        "Internet, puis redémarrez le poste.",
    ),
    (
        "File d'impression bloquée sur le serveur d'impression",
        "Imprimantes",
        Article.Audience.TECHNICIANS,
        "Note interne : sur le serveur d'impression, redémarrer le service « Spouleur » puis "
        "purger le dossier spool. Vérifier ensuite le pilote universel de la file concernée.",
    ),
]

# title, category, description, resolution, days ago
RESOLVED = [
    (
        "Copieur du 2e étage : impression en attente",
        "Imprimantes",
        "Les documents restent « en attente » sur le copieur du 2e étage depuis ce matin.",
        "File d'impression purgée sur le serveur et service Spouleur redémarré.",
        20,
    ),
    (
        "VPN : erreur de certificat",
        "VPN",
        "Le client VPN affiche « certificat expiré » à la connexion.",
        "Certificat machine renouvelé à distance ; l'agent a redémarré son poste.",
        12,
    ),
]


def _category(name: str) -> Category | None:
    return Category.objects.filter(name=name).first()


def seed(stdout) -> None:
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    dsi = Direction.objects.filter(code="DSI").first()
    if admin is None or dsi is None:
        return
    for parent_name, children in CATEGORIES.items():
        parent, _ = Category.objects.get_or_create(parent=None, name=parent_name)
        for child in children:
            Category.objects.get_or_create(parent=parent, name=child)
    for title, category, audience, body in ARTICLES:
        Article.objects.get_or_create(
            title=title,
            defaults={
                "body": body,
                "category": _category(category),
                "audience": audience,
                "status": Article.Status.PUBLISHED,
            },
        )
    requester = User.objects.filter(email__startswith="agent.proprete@").first()
    now = timezone.now()
    for title, category, description, resolution, days in RESOLVED:
        Ticket.objects.get_or_create(
            title=title,
            defaults={
                "requester": requester,
                "category": _category(category),
                "description": description,
                "resolution": resolution,
                "status": Ticket.Status.RESOLVED,
                "created_at": now - timedelta(days=days),
                "resolved_at": now - timedelta(days=days - 1),
            },
        )

    bases = {}
    for slug, name, visibility, provider in (
        ("aide-informatique", "Aide informatique", Visibility.INTERNAL, "helpdesk.articles"),
        ("resolutions-dsi", "Résolutions DSI", Visibility.DIRECTION, "helpdesk.technicians"),
    ):
        collection, _ = Collection.objects.get_or_create(
            slug=slug, defaults={"name": name, "direction": dsi, "visibility": visibility}
        )
        source, _ = Source.objects.get_or_create(
            collection=collection,
            name="Assistance informatique",
            defaults={"kind": Source.Kind.APP, "config": {"provider": provider}},
        )
        ai_services.start_run(source, user=admin, inline=True)
        bases[slug] = collection

    helpdesk, created = Assistant.objects.get_or_create(
        slug="assistance-informatique",
        defaults={
            "name": "Assistance informatique",
            "kind": Assistant.Kind.HELPDESK,
            "direction": dsi,
            "audience": Assistant.Audience.AGENTS,
            "description": "Décrivez votre problème : l'assistant propose les solutions connues.",
            "greeting": "Bonjour ! Décrivez votre problème informatique avec vos mots.",
            "suggested_questions": ["Mon imprimante n'imprime plus", "Mon compte est verrouillé"],
        },
    )
    if created:
        helpdesk.collections.set([bases["aide-informatique"]])
    technician, created = Assistant.objects.get_or_create(
        slug="technicien",
        defaults={
            "name": "Assistant technicien",
            "kind": Assistant.Kind.HELPDESK,
            "direction": dsi,
            "audience": Assistant.Audience.GROUPS,
            "description": "Les résolutions des tickets passés et les notes internes de la DSI.",
        },
    )
    if created:
        technician.audience_groups.set(Group.objects.filter(name=TECHNICIEN_DSI))
        technician.collections.set(bases.values())
    stdout.write(
        f"Assistance informatique : {Article.objects.count()} articles, "
        f"{Ticket.objects.count()} tickets."
    )
