"""Cell values: priorities, statuses, dates, keys (the mappings are in the package's
docstring)."""

import datetime as dt
import hashlib
import logging
import re

from django.utils import timezone

from helpdesk.imports.reading import RowError, _key
from helpdesk.models import Article, Ticket

logger = logging.getLogger(__name__)

# --- Values --------------------------------------------------------------------------------

_PRIORITY_LABELS = {
    "tres basse": 1,
    "basse": 1,
    "faible": 1,
    "very low": 1,
    "low": 1,
    "moyenne": 2,
    "normale": 2,
    "normal": 2,
    "medium": 2,
    "haute": 3,
    "elevee": 3,
    "high": 3,
    "tres haute": 4,
    "majeure": 4,
    "urgente": 4,
    "critique": 4,
    "very high": 4,
    "urgent": 4,
    "critical": 4,
    "major": 4,
}
# GLPI's scale: 1 très basse, 2 basse, 3 moyenne, 4 haute, 5 très haute, 6 majeure.
_PRIORITY_NUMBERS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4}

_S = Ticket.Status
_STATUS_LABELS = {
    "nouveau": _S.NEW,
    "new": _S.NEW,
    "en cours attribue": _S.ASSIGNED,
    "en cours planifie": _S.ASSIGNED,
    "en cours": _S.ASSIGNED,
    "attribue": _S.ASSIGNED,
    "planifie": _S.ASSIGNED,
    "pris en charge": _S.ASSIGNED,
    "assigned": _S.ASSIGNED,
    "in progress": _S.ASSIGNED,
    "en attente": _S.WAITING,
    "en attente de l agent": _S.WAITING,
    "waiting": _S.WAITING,
    "pending": _S.WAITING,
    "resolu": _S.RESOLVED,
    "resolved": _S.RESOLVED,
    "solved": _S.RESOLVED,
    "clos": _S.CLOSED,
    "ferme": _S.CLOSED,
    "cloture": _S.CLOSED,
    "closed": _S.CLOSED,
}
# GLPI's integers: 1 nouveau, 2 en cours (attribué), 3 en cours (planifié), 4 en attente,
# 5 résolu, 6 clos.
_STATUS_NUMBERS = {
    1: _S.NEW,
    2: _S.ASSIGNED,
    3: _S.ASSIGNED,
    4: _S.WAITING,
    5: _S.RESOLVED,
    6: _S.CLOSED,
}

_ARTICLE_STATUS = {
    "publie": Article.Status.PUBLISHED,
    "publiee": Article.Status.PUBLISHED,
    "published": Article.Status.PUBLISHED,
    "oui": Article.Status.PUBLISHED,
    "1": Article.Status.PUBLISHED,
    "brouillon": Article.Status.DRAFT,
    "draft": Article.Status.DRAFT,
    "non": Article.Status.DRAFT,
    "0": Article.Status.DRAFT,
}

_DATE_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)


def _coded(value: str, default, numbers: dict, labels: dict, unknown: str):
    """A GLPI-style value given as its number or its label; `unknown` is the French refusal,
    with `{value}` in it."""
    value = value.strip()
    if not value:
        return default
    found = numbers.get(int(value)) if re.fullmatch(r"\d+", value) else labels.get(_key(value))
    if found is None:
        raise RowError(unknown.format(value=value[:40]))
    return found


def parse_priority(value: str) -> int:
    return _coded(
        value,
        Ticket.Priority.NORMAL,
        _PRIORITY_NUMBERS,
        _PRIORITY_LABELS,
        "priorité « {value} » inconnue (attendu : Très basse, Basse, Moyenne, Haute, "
        "Très haute, Majeure ou 1 à 6)",
    )


def parse_status(value: str) -> str:
    return _coded(
        value,
        Ticket.Status.CLOSED,
        _STATUS_NUMBERS,
        _STATUS_LABELS,
        "statut « {value} » inconnu (attendu : Nouveau, En cours, En attente, Résolu ou Clos)",
    )


def parse_date(value: str, label: str = "date") -> dt.datetime | None:
    value = " ".join(value.split())
    if not value:
        return None
    parsed = None
    for fmt in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RowError(
                f"{label} « {value[:40]} » illisible (attendu : jj/mm/aaaa hh:mm ou aaaa-mm-jj)"
            ) from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _title_from(text: str, limit: int) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


def _hash_key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return "h:" + digest[:40]
