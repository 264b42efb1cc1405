"""The fields a column can fill, the guessed mapping and its validation."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from helpdesk.imports.reading import ImportFileError, _key
from helpdesk.models import ImportJob

logger = logging.getLogger(__name__)

# --- Fields and mapping --------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    label: str
    required: bool = False
    # Header names recognised by `guess_mapping`, as `_key` gives them, best first.
    aliases: tuple[str, ...] = ()
    help: str = ""


TICKET_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec(
        "N° d'origine",
        aliases=("id", "n", "no", "numero", "n ticket", "numero du ticket", "ticket id", "ref"),
        help="Clé de l'import ; sans elle : empreinte du titre, de la description, de la date.",
    ),
    "title": FieldSpec(
        "Titre",
        required=True,
        aliases=("titre", "title", "sujet", "objet", "intitule", "short description"),
        help="Vide sur une ligne : le début de la description.",
    ),
    "description": FieldSpec(
        "Description", aliases=("description", "body", "contenu", "texte", "demande")
    ),
    "category": FieldSpec(
        "Catégorie",
        aliases=("categorie", "category", "categorie itil"),
        help="Code ou chemin « Matériel > Imprimantes » ; créée si besoin.",
    ),
    "priority": FieldSpec(
        "Priorité",
        aliases=("priorite", "priority", "urgence", "urgency"),
        help="Libellés GLPI (Très basse … Majeure) ou entiers 1 à 6.",
    ),
    "status": FieldSpec(
        "Statut",
        aliases=("statut", "etat", "status", "state"),
        help="Libellés GLPI (Nouveau, En cours, En attente, Résolu, Clos) ; vide : Clos.",
    ),
    "created_at": FieldSpec(
        "Date d'ouverture",
        aliases=(
            "date d ouverture",
            "date ouverture",
            "ouvert le",
            "date de creation",
            "cree le",
            "created at",
            "opened at",
            "date",
        ),
        help="jj/mm/aaaa [hh:mm] ou ISO ; sans date : le moment de l'import.",
    ),
    "resolved_at": FieldSpec(
        "Date de résolution",
        aliases=("date de resolution", "resolu le", "date resolution", "resolved at", "solved at"),
    ),
    "resolution": FieldSpec("Solution", aliases=("solution", "resolution", "reponse")),
    "requester": FieldSpec(
        "Demandeur (e-mail)",
        aliases=("demandeur", "demandeur demandeur", "requester", "email", "courriel"),
        help="Inconnu : laissé vide.",
    ),
    "direction": FieldSpec(
        "Entité / direction",
        aliases=("entite", "direction", "entity"),
        help="Code ou nom d'une direction ; inconnue : celle du demandeur.",
    ),
}

ARTICLE_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec(
        "N° d'origine",
        aliases=("id", "n", "no", "numero", "ref"),
        help="Clé de l'import : sans elle, une empreinte du titre et du contenu.",
    ),
    "title": FieldSpec(
        "Titre", required=True, aliases=("titre", "title", "sujet", "question", "objet")
    ),
    "body": FieldSpec(
        "Contenu",
        required=True,
        aliases=("contenu", "body", "texte", "reponse", "answer", "description"),
    ),
    "category": FieldSpec(
        "Catégorie",
        aliases=("categorie", "category"),
        help="Code ou chemin « Matériel > Imprimantes » ; créée si besoin.",
    ),
    "status": FieldSpec(
        "Statut",
        aliases=("statut", "etat", "status", "publie"),
        help="Publié / Brouillon (oui/non) ; vide : Brouillon.",
    ),
}


def fields_for(kind: str) -> dict[str, FieldSpec]:
    return ARTICLE_FIELDS if kind == ImportJob.Kind.ARTICLES else TICKET_FIELDS


def guess_mapping(headers: Iterable[str], kind: str) -> dict[str, str]:
    """Field -> column name for the columns whose header is a known name (GLPI exports, the
    Endava file, French and English names). A column fills at most one field."""
    headers = [h for h in headers if h and h.strip()]
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_key(header), header)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for name, spec in fields_for(kind).items():
        for alias in spec.aliases:
            header = by_key.get(alias)
            if header is not None and header not in used:
                mapping[name] = header
                used.add(header)
                break
    return mapping


def validate_mapping(mapping: dict[str, str], headers: list[str], kind: str) -> dict[str, str]:
    """The mapping without its empty entries; `ImportFileError` (French) when a required field
    is not mapped, a column does not exist or a column fills two fields."""
    fields = fields_for(kind)
    clean = {f: c for f, c in (mapping or {}).items() if c}
    unknown = [f for f in clean if f not in fields]
    if unknown:
        raise ImportFileError(f"Champ inconnu : {', '.join(unknown)}.")
    missing = [spec.label for name, spec in fields.items() if spec.required and name not in clean]
    if missing:
        raise ImportFileError(
            "Choisissez une colonne pour : " + ", ".join(f"« {m} »" for m in missing) + "."
        )
    absent = [c for c in clean.values() if c not in headers]
    if absent:
        raise ImportFileError(
            "Colonne introuvable dans le fichier : "
            + ", ".join(f"« {c} »" for c in absent)
            + ". Colonnes trouvées : "
            + (", ".join(f"« {h} »" for h in headers if h)[:300] or "aucune")
            + "."
        )
    columns = list(clean.values())
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ImportFileError(
            "Une colonne ne peut remplir qu'un champ : "
            + ", ".join(f"« {c} »" for c in twice)
            + " est choisie plusieurs fois."
        )
    return clean
