"""Demo helpdesk for `manage.py seed_demo`: categories, articles, a few resolved tickets, the
two knowledge bases fed by the helpdesk, and the self-service and technician assistants."""

from __future__ import annotations

import contextlib
from datetime import datetime, time, timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from ai import services as ai_services
from ai.models import Collection, Source
from chat.models import Assistant
from core.models import Direction, User, Visibility
from core.roles import TECHNICIEN_DSI
from helpdesk.models import Article, Category, Deflection, Ticket

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


# Ten weeks of past tickets per category (usual weekday volume, titles agents write), so the
# category suggestion has something to learn from and the dashboard something to show; today,
# printers surge (a print server down), which the spike check turns into an alert.
HISTORY = {
    "Imprimantes": (3, ["Imprimante bloquée", "Bourrage papier sur le copieur",
                        "Impression en attente", "Le copieur n'imprime plus",
                        "Toner vide", "Scanner du copieur hors service"]),
    "Postes de travail": (3, ["Mon poste ne démarre plus", "Écran noir au démarrage",
                              "Ordinateur très lent", "Clavier qui ne répond plus",
                              "Mise à jour Windows bloquée"]),
    "Téléphonie": (1, ["Téléphone fixe sans tonalité", "Messagerie vocale inaccessible",
                       "Renvoi d'appel à configurer"]),
    "Mots de passe": (4, ["Mot de passe expiré", "Compte verrouillé",
                          "Mot de passe oublié", "Impossible d'ouvrir ma session"]),
    "Droits d'accès": (2, ["Accès au dossier partagé refusé", "Droits sur l'application RH",
                           "Accès à la boîte mail du service"]),
    "VPN": (2, ["VPN : connexion impossible", "VPN : certificat expiré",
                "Télétravail : le VPN coupe sans cesse"]),
    "Wi-Fi": (1, ["Wi-Fi invité : code refusé", "Pas de Wi-Fi en salle du conseil"]),
    "Messagerie": (2, ["Outlook ne reçoit plus les mails", "Boîte mail pleine",
                       "Pièce jointe bloquée"]),
    "Applications métier": (2, ["Logiciel finances : erreur à l'ouverture",
                                "Application état civil très lente",
                                "Logiciel RH : impression des bulletins impossible"]),
}  # fmt: skip
SURGE = ("Imprimantes", 16)


def _history(now) -> int:
    """Imported tickets of the last ten weeks; idempotent through their external ids."""
    import random

    rng = random.Random(42)  # noqa: S311 - not security: the same demo every time
    rows = []
    today = timezone.localdate()
    for name, (usual, titles) in HISTORY.items():
        category = _category(name)
        for back in range(0, 71):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            n = max(0, usual + rng.choice((-1, 0, 0, 1))) if back else 1
            if back == 0 and name == SURGE[0]:
                n = SURGE[1]
            for i in range(n):
                at = timezone.make_aware(
                    datetime.combine(day, time(8 + (i * 37) % 9, (i * 13) % 60))
                )
                if at > now:
                    at = now - timedelta(minutes=i + 1)
                closed = back > 2
                rows.append(
                    Ticket(
                        external_id=f"demo-{name}-{back}-{i}",
                        # The portal opened six weeks ago; before, tickets came from GLPI.
                        origin=Ticket.Origin.PORTAL if back < 42 else Ticket.Origin.IMPORT,
                        title=rng.choice(titles),
                        category=category,
                        status=Ticket.Status.CLOSED if closed else Ticket.Status.NEW,
                        created_at=at,
                        resolved_at=at + timedelta(hours=4) if closed else None,
                    )
                )
    Ticket.objects.bulk_create(rows, ignore_conflicts=True)
    # Problems the assistant solved without a ticket since the portal opened (a few a day).
    requester = User.objects.filter(email__startswith="agent.proprete@").first()
    if not Deflection.objects.exists():
        days = []
        for back in range(42):
            day = today - timedelta(days=back)
            if day.weekday() < 5:
                days += [
                    timezone.make_aware(datetime.combine(day, time(9 + i, 15)))
                    for i in range(rng.choice((1, 2, 2, 3)))
                ]
        solved = Deflection.objects.bulk_create(
            [
                Deflection(user=requester, question=rng.choice(HISTORY["Imprimantes"][1]))
                for _ in days
            ]
        )
        for deflection, at in zip(solved, days, strict=True):  # auto_now_add ignored the day
            Deflection.objects.filter(pk=deflection.pk).update(created_at=min(at, now))
    return len(rows)


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

    _history(now)
    from helpdesk import alerts, services

    with contextlib.suppress(ValueError):  # too thin a history: no suggestion, no harm
        services.train_category_model()
    alerts.check_spikes()

    bases = {}
    for slug, name, visibility, provider in (
        ("aide-informatique", "Aide informatique", Visibility.INTERNAL, "helpdesk.articles"),
        ("resolutions-dsi", "Résolutions DSI", Visibility.DIRECTION, "helpdesk.technicians"),
    ):
        collection, _ = Collection.objects.get_or_create(
            slug=slug, defaults={"name": name, "direction": dsi, "visibility": visibility}
        )
        # Hourly as a safety net: publishing an article or resolving a ticket re-indexes at once.
        source = Source.objects.filter(
            collection=collection, name="Assistance informatique"
        ).first() or ai_services.create_source(
            user=admin,
            collection=collection,
            name="Assistance informatique",
            kind=Source.Kind.APP,
            config={"provider": provider},
            schedule_minutes=60,
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
