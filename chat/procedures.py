"""The catalogue of online procedures (démarches): CSV import, console writes, and matching a
citizen's free-text request to the right procedure.

Matching is in-process and model-free beyond the embedded dense encoder: the catalogue is small
(tens to a few hundred procedures), so it is scored in full on every request rather than indexed.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from ai.converters.common import decode_text, looks_binary
from ai.embedding import embed_dense
from ai.text import analyze, fold, word_terms
from chat.models import Procedure
from core import audit
from core.models import Direction

logger = logging.getLogger(__name__)

IMPORT_ACTION = "chat.procedure_import"
CHANGE_ACTION = "chat.procedure_change"
DELETE_ACTION = "chat.procedure_delete"

MAX_IMPORT_BYTES = 5 * 1024 * 1024

# --- Import ------------------------------------------------------------------------------------


class ProcedureImportError(Exception):
    """The file as a whole cannot be imported; the message is French, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ImportReport:
    """What an import did. Line numbers are those of the file, header included (line 1)."""

    created: int = 0
    updated: int = 0
    # Rows whose procedure already existed with exactly the same content.
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def delimiter_label(self) -> str:
        return {";": "point-virgule", ",": "virgule", "\t": "tabulation"}.get(
            self.delimiter, self.delimiter
        )


# Column -> accepted header names, compared after `_header_key` (lower case, no accents, words
# separated by single spaces).
COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("titre", "intitule", "nom", "demarche", "nom de la demarche", "title"),
    "description": ("description", "descriptif", "resume", "presentation"),
    "keywords": ("mots cles", "mot cle", "mots cle", "motscles", "keywords", "tags"),
    "url": (
        "lien",
        "url",
        "adresse",
        "adresse web",
        "lien de la demarche",
        "adresse de la demarche",
        "link",
    ),
    "required_documents": (
        "pieces",
        "pieces a fournir",
        "pieces justificatives",
        "pieces requises",
        "justificatifs",
        "documents",
        "documents a fournir",
    ),
    "direction": ("direction", "direction en charge", "code direction", "service"),
    "is_active": ("en ligne", "actif", "active", "publie", "publiee"),
}
_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
REQUIRED_COLUMNS = ("title", "url")
EXPECTED_LABEL = "titre, description, mots-clés, lien, pièces à fournir, direction"

_DELIMITERS = (";", ",", "\t")
_PIECE_SPLIT = re.compile(r"\s*(?:[;|]|\r?\n)\s*")
_KEYWORD_SPLIT = re.compile(r"\s*(?:[;,|]|\r?\n)\s*")
_TRUE = {"oui", "o", "1", "vrai", "true", "x", "yes", "en ligne", "actif", "active"}
_FALSE = {"non", "n", "0", "faux", "false", "no", "hors ligne", "inactif", "inactive"}
_URL = URLValidator(schemes=["http", "https"])


def _header_key(name: str) -> str:
    return " ".join(re.split(r"[^a-z0-9]+", fold(name.strip().lstrip("\ufeff")))).strip()


def _map_header(cells: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _ALIASES.get(_header_key(cell))
        if column and column not in mapping:
            mapping[column] = index
    return mapping


def _detect_delimiter(lines: list[str]) -> str:
    """The delimiter whose split of the header names the most known columns; csv.Sniffer when
    the header says nothing (no known column at all); ';' as the French default."""
    header = lines[0]
    scores = {}
    for delimiter in _DELIMITERS:
        try:
            cells = next(csv.reader([header], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        scores[delimiter] = len(_map_header(cells))
    best = max(_DELIMITERS, key=lambda d: (scores.get(d, 0), d == ";"))
    if scores.get(best):
        return best
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        return ";"


def _decode(data: bytes) -> tuple[str, str]:
    if not data or not data.strip():
        raise ProcedureImportError("Le fichier est vide.")
    if len(data) > MAX_IMPORT_BYTES:
        raise ProcedureImportError(
            f"Le fichier dépasse {MAX_IMPORT_BYTES // (1024 * 1024)} Mo : "
            "un catalogue de démarches tient dans un fichier bien plus petit."
        )
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ProcedureImportError(
            "Ce fichier est un classeur (Excel ou OpenDocument), pas un fichier CSV : "
            "enregistrez-le au format « CSV (séparateur : point-virgule) » puis importez-le."
        )
    text, encoding = decode_text(data)
    if "\x00" in text or looks_binary(text):
        raise ProcedureImportError(
            "Le fichier n'est pas un fichier CSV lisible : son contenu semble binaire. "
            "Importez un fichier texte au format CSV, avec une ligne d'en-tête."
        )
    return text.lstrip("\ufeff"), encoding


def _cell(row: list[str], mapping: dict[str, int], column: str) -> str | None:
    """The cell of `column` (stripped), None when the file has no such column."""
    index = mapping.get(column)
    if index is None:
        return None
    return row[index].strip() if index < len(row) else ""


def _split_documents(value: str) -> str:
    return "\n".join(p.strip(" -•\t") for p in _PIECE_SPLIT.split(value) if p.strip(" -•\t"))


def _split_keywords(value: str) -> str:
    seen: dict[str, None] = {}
    for word in _KEYWORD_SPLIT.split(value):
        word = " ".join(word.split())
        if word and word.lower() not in {k.lower() for k in seen}:
            seen[word] = None
    return ", ".join(seen)


def _directions() -> dict[str, Direction]:
    directions = list(Direction.objects.order_by("pk"))
    lookup: dict[str, Direction] = {}
    for direction in directions:
        lookup.setdefault(_header_key(direction.name), direction)
    # Codes win over names when both could match.
    for direction in directions:
        lookup[direction.code.upper()] = direction
    return lookup


def _find_direction(value: str, lookup: dict[str, Direction]) -> Direction | None:
    return lookup.get(value.strip().upper()) or lookup.get(_header_key(value))


def _url_error(url: str) -> str | None:
    if not url:
        return "lien manquant"
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return f"lien « {url[:80]} » refusé : il doit commencer par http:// ou https://"
    if len(url) > Procedure._meta.get_field("url").max_length:
        return "lien trop long (500 caractères au plus)"
    try:
        _URL(url)
    except ValidationError:
        return f"lien « {url[:80]} » invalide"
    return None


def import_procedures_csv(data: bytes, *, user) -> ImportReport:
    """Create or update procedures from a CSV file (header row, French column names).

    Columns are recognised whatever their case and accents, with a few aliases (`COLUMNS`);
    `titre` and `lien` are required. The link is the key: a row whose link already exists
    updates that procedure, so importing the same file twice changes nothing. Only the
    columns present in the file are written on an update. Bad rows are reported with their
    line number and skipped; a file that cannot be read as a catalogue raises
    `ProcedureImportError` with a French message. All writes happen in one transaction.
    """
    text, encoding = _decode(data)
    lines = text.splitlines()
    delimiter = None
    skip = 0
    # Excel's "sep=;" first line names the delimiter.
    first = lines[0].strip() if lines else ""
    if re.fullmatch(r"sep=.", first):
        delimiter, skip = first[-1], 1
    content_lines = [line for line in lines[skip:] if line.strip()]
    if not content_lines:
        raise ProcedureImportError("Le fichier est vide.")
    delimiter = delimiter or _detect_delimiter(content_lines)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    report = ImportReport(encoding=encoding, delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    header_line = 0
    previous_end = 0
    try:
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if start <= skip or not any(cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = row, start
            else:
                rows.append((start, row))
    except csv.Error as exc:
        report.errors.append(
            (previous_end + 1, f"lecture interrompue, fichier CSV mal formé ({exc})")
        )
    if header is None:
        raise ProcedureImportError("Le fichier est vide.")

    mapping = _map_header(header)
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    if missing:
        names = {"title": "« titre »", "url": "« lien »"}
        found = ", ".join(f"« {h.strip()} »" for h in header if h.strip())[:300] or "aucune"
        what = (
            f"Colonne {names[missing[0]]} introuvable"
            if len(missing) == 1
            else f"Colonnes {' et '.join(names[c] for c in missing)} introuvables"
        )
        raise ProcedureImportError(
            f"{what} dans la ligne d'en-tête. Colonnes attendues : {EXPECTED_LABEL}. "
            f"Colonnes trouvées : {found}."
        )
    for index, name in enumerate(header):
        if name.strip() and index not in mapping.values():
            report.warnings.append((header_line, f"colonne « {name.strip()} » ignorée"))
    if not rows:
        raise ProcedureImportError(
            "Le fichier ne contient aucune démarche : seulement la ligne d'en-tête."
        )

    with transaction.atomic():
        _import_rows(rows, mapping, report)
        audit.record(
            IMPORT_ACTION,
            actor=user,
            details={
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "errors": len(report.errors),
            },
        )
    if report.errors:
        logger.warning(
            "procedure import by %s: %d created, %d updated, %d rows rejected (first: line %d, %s)",
            getattr(user, "email", "") or user,
            report.created,
            report.updated,
            len(report.errors),
            *report.errors[0],
        )
    return report


def _import_rows(
    rows: list[tuple[int, list[str]]], mapping: dict[str, int], report: ImportReport
) -> None:
    directions = _directions() if "direction" in mapping else {}
    # The lowest pk wins if the console ever let two procedures share a link.
    existing = {p.url: p for p in Procedure.objects.order_by("-pk")}
    # (unknown direction, new procedure?) -> lines: one warning per value, not one per row.
    unknown: dict[tuple[str, bool], list[int]] = {}
    seen_urls: dict[str, int] = {}
    max_title = Procedure._meta.get_field("title").max_length
    max_keywords = Procedure._meta.get_field("keywords").max_length
    for line, row in rows:
        title = " ".join((_cell(row, mapping, "title") or "").split())
        url = (_cell(row, mapping, "url") or "").strip()
        if not title:
            report.errors.append((line, "titre manquant"))
            continue
        if len(title) > max_title:
            report.errors.append((line, f"titre trop long ({max_title} caractères au plus)"))
            continue
        error = _url_error(url)
        if error:
            report.errors.append((line, error))
            continue
        if url in seen_urls:
            report.errors.append(
                (line, f"même lien que la ligne {seen_urls[url]} du fichier : ligne ignorée")
            )
            continue
        seen_urls[url] = line

        values: dict[str, object] = {"title": title}
        description = _cell(row, mapping, "description")
        if description is not None:
            values["description"] = description
        keywords = _cell(row, mapping, "keywords")
        if keywords is not None:
            keywords = _split_keywords(keywords)
            if len(keywords) > max_keywords:
                keywords = keywords[:max_keywords].rsplit(",", 1)[0]
                report.warnings.append((line, f"mots-clés tronqués à {max_keywords} caractères"))
            values["keywords"] = keywords
        documents = _cell(row, mapping, "required_documents")
        if documents is not None:
            values["required_documents"] = _split_documents(documents)
        active = _cell(row, mapping, "is_active")
        if active:
            flag = fold(active)
            if flag in _TRUE or flag in _FALSE:
                values["is_active"] = flag in _TRUE
            else:
                report.warnings.append(
                    (line, f"valeur « {active[:40]} » de « en ligne » non reconnue (oui/non)")
                )

        procedure = existing.get(url)
        direction_cell = _cell(row, mapping, "direction")
        if direction_cell is not None:
            if not direction_cell:
                values["direction_id"] = None
            else:
                direction = _find_direction(direction_cell, directions)
                if direction is not None:
                    values["direction_id"] = direction.pk
                else:
                    if procedure is None:
                        values["direction_id"] = None
                    unknown.setdefault((direction_cell[:60], procedure is None), []).append(line)

        if procedure is None:
            Procedure.objects.create(url=url, **values)
            report.created += 1
            continue
        changed = [name for name, value in values.items() if getattr(procedure, name) != value]
        if not changed:
            report.unchanged += 1
            continue
        for name in changed:
            setattr(procedure, name, values[name])
        procedure.save()
        report.updated += 1

    for (value, created), lines in unknown.items():
        where = _lines_label(lines)
        if created:
            what = (
                "démarche importée sans direction"
                if len(lines) == 1
                else f"{len(lines)} démarches importées sans direction ({where})"
            )
        else:
            what = (
                "la direction actuelle de la démarche est conservée"
                if len(lines) == 1
                else f"direction actuelle conservée pour {len(lines)} démarches ({where})"
            )
        report.warnings.append((lines[0], f"direction « {value} » inconnue : {what}"))
    report.warnings.sort(key=lambda w: w[0])


def _lines_label(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return f"lignes {shown}" + (" …" if len(lines) > 10 else "")


# --- Console writes ----------------------------------------------------------------------------


def save_procedure(procedure: Procedure, *, user) -> Procedure:
    """Save a procedure edited in the console (created or changed), audited."""
    created = procedure.pk is None
    with transaction.atomic():
        procedure.save()
        audit.record(
            CHANGE_ACTION,
            actor=user,
            target=procedure,
            details={"created": created, "title": procedure.title[:200]},
        )
    return procedure


def delete_procedure(procedure: Procedure, *, user) -> None:
    """Delete a procedure from the catalogue, audited."""
    with transaction.atomic():
        audit.record(
            DELETE_ACTION,
            actor=user,
            target=procedure,
            details={"title": procedure.title[:200], "url": procedure.url},
        )
        procedure.delete()


# --- Matching ----------------------------------------------------------------------------------

# Weights of a query term found in each field (the best field counts).
TITLE_WEIGHT = 1.0
KEYWORDS_WEIGHT = 0.8
DESCRIPTION_WEIGHT = 0.4
# A stem of the same family (see `_related`) counts this share of an exact one.
RELATED_WEIGHT = 0.7
# A request stem that no procedure contains weighs this share of the rarest known stem in the
# coverage's denominator: a request made of several words the catalogue never uses is less
# surely about the procedure its one known word points to.
UNKNOWN_WEIGHT = 0.25
# Words every procedure of a city could contain: they say nothing about which one is meant,
# and a catalogue where one of them happens to appear once would give it a high IDF.
GENERIC_WORDS = (
    "mairie ville municipal municipale municipaux commune communal communale démarche "
    "démarches demande demander formulaire dossier service services ligne internet site "
    "habitant habitants citoyen citoyens"
)
# Share of the dense similarity in the final score (the lexical score has the rest).
DENSE_SHARE = 0.5
# Calibrated on chat/fixtures/demarches_demo.csv with 33 precise requests, 8 one-word ones and
# 15 off-topic ones: the right procedure scored 0.32-0.79 (first every time but one, "je veux
# construire une piscine", PC 0.35 before DP 0.29: really a choice to ask about); off-topic
# requests 0.02-0.11, except "horaires de la piscine municipale" (0.38 for the déclaration
# préalable, whose keywords list "piscine": a known limit). The first two candidates of a
# vague request ("poubelle", "carte", "stationnement", "acte d'état civil"...) were
# 0.003-0.036 apart, those of a precise request 0.147 or more.
MIN_SCORE = 0.25
# A word in common with a procedure whose meaning is unrelated (a homonym, a fluke) is no
# match: the right procedures were at 0.18 or more, off-topic bests at 0.21 or less.
MIN_DENSE = 0.10
CLARIFY_MARGIN = 0.08


@dataclass
class ProcedureMatch:
    procedure: Procedure
    score: float
    # Words of the request found in the procedure's title, keywords or description.
    matched_terms: list[str]
    dense: float = 0.0
    lexical: float = 0.0


@dataclass
class _Entry:
    # (updated_at, title, keywords, description): what the entry was computed from.
    key: tuple
    vector: np.ndarray
    title: frozenset[str]
    keywords: frozenset[str]
    description: frozenset[str]


# pk -> analysed procedure; an entry is reused while (pk, updated_at) and its texts are the same
# (a queryset .update() does not touch updated_at).
_catalogue: dict[int, _Entry] = {}
_catalogue_lock = threading.Lock()


def _embedded_text(procedure: Procedure) -> str:
    # Title and keywords say what the procedure is for; the description is mostly how, and
    # dilutes the vector (measured: lower similarity for the right procedure).
    return f"{procedure.title}. {procedure.keywords}".strip(" .")


def _entry_key(procedure: Procedure) -> tuple:
    return (procedure.updated_at, procedure.title, procedure.keywords, procedure.description)


def _entries(procedures: list[Procedure]) -> dict[int, _Entry]:
    with _catalogue_lock:
        stale = [
            p
            for p in procedures
            if (entry := _catalogue.get(p.pk)) is None or entry.key != _entry_key(p)
        ]
        if stale:
            vectors = embed_dense([_embedded_text(p) for p in stale])
            for procedure, vector in zip(stale, vectors, strict=True):
                _catalogue[procedure.pk] = _Entry(
                    key=_entry_key(procedure),
                    vector=vector,
                    title=frozenset(analyze(procedure.title)),
                    keywords=frozenset(analyze(procedure.keywords)),
                    description=frozenset(analyze(procedure.description)),
                )
        live = {p.pk for p in procedures}
        for pk in [pk for pk in _catalogue if pk not in live]:
            del _catalogue[pk]
        return {p.pk: _catalogue[p.pk] for p in procedures}


def clear_catalogue_cache() -> None:
    with _catalogue_lock:
        _catalogue.clear()


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _related(term: str, vocabulary: set[str]) -> frozenset[str]:
    """Catalogue stems of the same family as a query stem: the stemmer leaves "inscrire" and
    "inscription" apart ("inscrir", "inscript"); a shared prefix of 6 letters or more, missing
    at most two letters of the shorter stem, brings them together without making "électrique"
    an "électroménager"."""
    related = set()
    for other in vocabulary:
        if other == term:
            continue
        if _common_prefix(term, other) >= max(6, min(len(term), len(other)) - 2):
            related.add(other)
    return frozenset(related)


def _term_weight(term: str, related: frozenset[str], entry: _Entry) -> float:
    best = 0.0
    for terms, weight in (
        (entry.title, TITLE_WEIGHT),
        (entry.keywords, KEYWORDS_WEIGHT),
        (entry.description, DESCRIPTION_WEIGHT),
    ):
        if term in terms:
            best = max(best, weight)
        elif related & terms:
            best = max(best, weight * RELATED_WEIGHT)
    return best


@lru_cache(maxsize=1)
def _generic_terms(city: str) -> frozenset[str]:
    return frozenset(analyze(GENERIC_WORDS)) | frozenset(analyze(city))


def _query_words(query: str, terms: set[str]) -> list[str]:
    words: list[str] = []
    for word in re.findall(r"[^\W_]+(?:['’][^\W_]+)?", query):
        if word_terms(word) & terms and word.lower() not in (w.lower() for w in words):
            words.append(word)
    return words


def match_procedures(query: str, *, limit: int = 3) -> list[ProcedureMatch]:
    """Active procedures that answer a citizen's request, best first; [] when none does.

    Scoring, for each active procedure p and the request q:

    * dense(p) = cosine between the multilingual USE vectors of q and of "title. keywords"
      of p (catalogue vectors are cached in-process per (pk, updated_at));
    * lexical(p) = coverage x confidence. Coverage is the IDF-weighted share of the request's
      known stems (`ai.text.analyze`: French stems, stop words out, accents folded) found in p,
      each stem counting 1 in the title, 0.8 in the keywords, 0.4 in the description; stems
      that no procedure contains are left out, so chatty phrasing ("je voudrais...") costs
      nothing. Confidence = min(1, known IDF mass / IDF of a term found in one procedure):
      one common word ("demande") alone cannot make a confident match. IDF is
      log(1 + N / df) over the N active procedures;
    * score(p) = DENSE_SHARE x dense + (1 - DENSE_SHARE) x lexical.

    Procedures scoring below MIN_SCORE, or whose dense similarity is under MIN_DENSE, are
    dropped: off-topic requests have no known stem and a dense similarity under ~0.2, hence a
    score under ~0.12.
    """
    query = (query or "").strip()
    if not query:
        return []
    procedures = list(Procedure.objects.filter(is_active=True).select_related("direction"))
    matches = [
        m
        for m in score_procedures(query, procedures)
        if m.score >= MIN_SCORE and m.dense >= MIN_DENSE
    ]
    return matches[:limit]


def score_procedures(query: str, procedures: list[Procedure]) -> list[ProcedureMatch]:
    """Every procedure of `procedures` scored against the request (see `match_procedures`),
    best first, with no threshold: for calibration and the console's test box."""
    if not query.strip() or not procedures:
        return []
    entries = _entries(procedures)
    query_vector = embed_dense([query[:2000]])[0]

    terms = set(analyze(query)) - _generic_terms(settings.CITY_NAME)
    n = len(procedures)
    vocabulary = set().union(*(e.title | e.keywords | e.description for e in entries.values()))
    related = {t: _related(t, vocabulary) for t in terms}
    df = {t: sum(1 for e in entries.values() if _term_weight(t, related[t], e)) for t in terms}
    max_idf = math.log(1 + n)
    idf = {t: math.log(1 + n / df[t]) for t in terms if df[t]}
    known_mass = sum(idf.values())
    unknown_mass = UNKNOWN_WEIGHT * max_idf * (len(terms) - len(idf))
    confidence = min(1.0, known_mass / max_idf)

    matches = []
    for procedure in procedures:
        entry = entries[procedure.pk]
        dense = float(entry.vector @ query_vector)
        lexical = 0.0
        matched: set[str] = set()
        if known_mass:
            gained = 0.0
            for term, weight in idf.items():
                w = _term_weight(term, related[term], entry)
                if w:
                    gained += weight * w
                    matched.add(term)
            lexical = gained / (known_mass + unknown_mass) * confidence
        score = DENSE_SHARE * dense + (1 - DENSE_SHARE) * lexical
        matches.append(
            ProcedureMatch(
                procedure=procedure,
                score=round(score, 4),
                matched_terms=_query_words(query, matched),
                dense=round(dense, 4),
                lexical=round(lexical, 4),
            )
        )
    matches.sort(key=lambda m: (-m.score, m.procedure.title))
    return matches


def needs_clarification(matches: list[ProcedureMatch]) -> bool:
    """True when the request is ambiguous: the best two candidates (both relevant, as every
    match is) score within CLARIFY_MARGIN of each other, so the assistant should ask which
    one the citizen means rather than pick. Pass the matches of `match_procedures` with
    limit >= 2."""
    if len(matches) < 2:
        return False
    return matches[0].score - matches[1].score < CLARIFY_MARGIN
