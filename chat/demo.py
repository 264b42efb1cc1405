"""Demo assistants for `manage.py seed_demo` (after ai.demo has created the knowledge bases)."""

from __future__ import annotations

from pathlib import Path

from ai.models import Collection
from chat.models import Assistant, Procedure
from core.models import Direction, User

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demarches_demo.csv"

# slug, name, kind, direction, audience, audience directions, collection slugs, description,
# greeting, suggested questions, use_procedures
ASSISTANTS = [
    (
        "intranet",
        "Assistant de l'intranet",
        Assistant.Kind.INTRANET,
        "DSI",
        Assistant.Audience.AGENTS,
        [],
        [],
        "Répond à partir de tous les documents auxquels vous avez accès.",
        "Bonjour ! Posez votre question, je réponds à partir des documents de la ville.",
        ["Comment changer mon mot de passe ?", "Quels sont les tarifs de la cantine ?"],
        False,
    ),
    (
        "rh",
        "Assistant RH",
        Assistant.Kind.DIRECTION,
        "DRH",
        Assistant.Audience.DIRECTIONS,
        ["DRH"],
        ["procedures-rh"],
        "Procédures de la direction des ressources humaines (réservé à la DRH).",
        "Bonjour ! Je connais les procédures RH : frais de déplacement, télétravail…",
        ["Comment me faire rembourser un déplacement ?", "Combien de jours de télétravail ?"],
        False,
    ),
    (
        "citoyens",
        "Assistant des démarches",
        Assistant.Kind.CITIZEN,
        "DSI",
        Assistant.Audience.PUBLIC,
        [],
        ["deliberations"],
        "Trouvez la bonne démarche en ligne et les pièces à préparer.",
        "Bonjour ! Décrivez votre besoin, je vous oriente vers la bonne démarche.",
        ["Ma poubelle est cassée", "Je veux refaire ma carte d'identité"],
        True,
    ),
]


def seed(stdout=None) -> None:
    if FIXTURE.is_file() and not Procedure.objects.exists():
        from chat.procedures import import_procedures_csv

        admin = User.objects.filter(is_superuser=True).first()
        report = import_procedures_csv(FIXTURE.read_bytes(), user=admin)
        if stdout:
            stdout.write(f"  démarches : {report.created} créées")
    for (
        slug, name, kind, code, audience, audience_codes, collections, description, greeting,
        suggestions, procedures,
    ) in ASSISTANTS:  # fmt: skip
        direction = Direction.objects.get(code=code)
        assistant, created = Assistant.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "direction": direction,
                "audience": audience,
                "description": description,
                "greeting": greeting,
                "suggested_questions": suggestions,
                "use_procedures": procedures,
            },
        )
        if created:
            assistant.audience_directions.set(Direction.objects.filter(code__in=audience_codes))
            assistant.collections.set(Collection.objects.filter(slug__in=collections))
            if stdout:
                stdout.write(f"  assistant « {name} » créé")
