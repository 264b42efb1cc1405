"""Demo knowledge bases for `manage.py seed_demo` (fictitious documents of a fictitious city)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from ai import services
from ai.models import Collection, Source
from core.models import Direction, User, Visibility

# slug, name, direction code, visibility, {filename: markdown}
BASES = [
    (
        "procedures-rh",
        "Procédures RH",
        "DRH",
        Visibility.DIRECTION,
        {
            "frais-de-deplacement.md": """# Remboursement des frais de déplacement

## Conditions

Les agents en mission hors de la résidence administrative sont remboursés de leurs frais de
transport, de repas et d'hébergement sur présentation des justificatifs.

## Procédure

L'agent remplit l'état de frais dans le mois qui suit la mission, le fait signer par son
responsable hiérarchique et l'adresse au service de la paie avec les justificatifs originaux.
Le remboursement intervient sur la paie du mois suivant.
""",
            "teletravail.md": """# Télétravail

## Éligibilité

Le télétravail est ouvert aux agents dont les missions le permettent, à raison de deux jours
par semaine au plus, après accord du responsable de service.

## Demande

La demande se fait par le formulaire de l'intranet. Une convention est signée pour un an.
""",
        },
    ),
    (
        "documentation-dsi",
        "Documentation DSI",
        "DSI",
        Visibility.INTERNAL,
        {
            "mot-de-passe.md": """# Changer son mot de passe

Le mot de passe de session doit contenir au moins douze caractères. Il se change depuis le
portail, rubrique « Mon compte ». En cas d'oubli, utilisez « Mot de passe oublié » sur la
page de connexion : un lien de réinitialisation est envoyé à votre adresse professionnelle.
""",
            "imprimantes.md": """# Imprimantes partagées

Pour ajouter une imprimante, ouvrez le catalogue logiciel et choisissez « Imprimantes de mon
étage ». Le badge agent libère les impressions sur n'importe quel copieur de la mairie.
""",
        },
    ),
    (
        "deliberations",
        "Délibérations du conseil municipal",
        "DAJA",
        Visibility.PUBLIC,
        {
            "tarifs-cantine-2026.md": """# Délibération n° 2026-041 : tarifs de la cantine

Le conseil municipal fixe les tarifs de la restauration scolaire selon le quotient familial :
1,00 € par repas en dessous de 500 €, 2,80 € entre 500 € et 1 000 €, 4,20 € au-delà.
Les tarifs s'appliquent à compter de la rentrée de septembre 2026.
""",
        },
    ),
]


def seed(stdout) -> None:
    """Create the demo bases and index their documents here (idempotent)."""
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        return
    for slug, name, code, visibility, files in BASES:
        direction = Direction.objects.get(code=code)
        collection, _ = Collection.objects.get_or_create(
            slug=slug, defaults={"name": name, "direction": direction, "visibility": visibility}
        )
        source, _ = Source.objects.get_or_create(
            collection=collection, name="Documents déposés", defaults={"kind": Source.Kind.UPLOAD}
        )
        services.add_uploads(
            user=admin,
            source=source,
            files=[SimpleUploadedFile(n, text.encode("utf-8")) for n, text in files.items()],
        )
        services.start_run(source, user=admin, inline=True)
    stdout.write(f"Bases de connaissances de démonstration : {len(BASES)}.")
