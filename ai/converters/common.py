"""Helpers shared by the converters: text decoding, paragraphs and headings, table rows."""

from __future__ import annotations

import codecs
import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath

from .base import Block, ConversionError

# Rows kept per sheet or CSV file: beyond that a spreadsheet is a database export, and the
# rest would only drown the useful passages.
MAX_ROWS_PER_SHEET = 50_000


@dataclass
class Options:
    """What `convert()` passes down to every format module."""

    filename: str = ""
    ocr: bool = True
    # At most this many pages are OCR'd per document (None: no limit).
    max_ocr_pages: int | None = None


def file_stem(filename: str) -> str:
    stem = PurePath(filename or "").stem
    return re.sub(r"[_\s]+", " ", stem).strip()


def human_mb(size: int) -> str:
    """12 345 678 -> '11,8 Mo' (French decimal comma)."""
    value = size / (1024 * 1024)
    text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", ",") + " Mo"


# --- Text decoding -----------------------------------------------------------------------------

# French files that are not UTF-8 are cp1252 (or its subset ISO-8859-1) in practice, but on
# short or number-heavy files charset-normalizer often ranks a cousin first (cp1250 reads "è"
# as "č", cp850 reads "é" as "Ú"). So cp1252 wins whenever charset-normalizer finds it
# plausible at all; its own first choice is kept only for files cp1252 cannot explain
# (Cyrillic, Asian encodings, UTF-16 without BOM...).
_CP1252_ALIASES = {"cp1252", "windows_1252", "latin_1", "iso8859_1", "iso8859_15"}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown encoding; returns (text, encoding name)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few stray bytes (a cp1252 paste, a cut at the end): a cp1252 file almost
    # never contains valid multi-byte sequences, so many of them means UTF-8.
    lenient = data.decode("utf-8", errors="replace")
    errors = lenient.count("\ufffd")
    if sum(1 for c in lenient if ord(c) > 127) - errors >= 10 * errors:
        return lenient, "utf-8"
    plausible = _charset_normalizer_candidates(data)
    if plausible and not (_CP1252_ALIASES & set(plausible)):
        try:
            return data.decode(plausible[0]), plausible[0]
        except (UnicodeDecodeError, LookupError):
            pass
    for encoding in ("cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1", errors="replace"), "latin-1"  # pragma: no cover


def _charset_normalizer_candidates(data: bytes) -> list[str]:
    """Encodings charset-normalizer finds plausible, best first (normalised names)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - declared dependency
        return []
    # A sample is enough to guess and keeps big CSV exports fast.
    matches = from_bytes(data[:200_000])
    return [match.encoding.replace("-", "_").lower() for match in matches]


# Runs of characters that are always readable (allowed controls, printable ASCII, Latin
# letters and accents, common punctuation, the euro sign): removed in C before the per-character
# check, which cost 3 % of a whole ingestion run when it looked at every character of every page.
_READABLE_RUNS = re.compile(r"[\t\n\r\f\v\x20-\x7e\u00a0-\u024f\u2010-\u2027\u2030-\u205e\u20ac]+")


def unreadable_ratio(text: str) -> float:
    """Share of characters that no text file contains: control, unassigned, replacement."""
    if not text:
        return 0.0
    sample = text[:100_000]
    bad = 0
    for char in _READABLE_RUNS.sub("", sample):
        if char == "\ufffd" or unicodedata.category(char) in ("Cc", "Cn", "Co", "Cs"):
            bad += 1
    return bad / len(sample)


def looks_binary(text: str) -> bool:
    return unreadable_ratio(text) > 0.05


def decode_readable(data: bytes) -> str:
    """Decode a text file or raise the French 'no readable text' error."""
    text, _encoding = decode_text(data)
    if looks_binary(text):
        raise ConversionError(
            "Le fichier ne contient pas de texte lisible : son contenu semble binaire "
            "ou son format n'est pas reconnu."
        )
    return text


# --- Cleaning ----------------------------------------------------------------------------------

_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "\xad": ""}
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES_RE = re.compile(r"\s+")
_HAS_WORD_RE = re.compile(r"\w")


def clean_inline(text: str) -> str:
    """One line of text: NFC, no ligatures, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_LIGATURES)
    text = _CONTROL_RE.sub(" ", text)
    return _SPACES_RE.sub(" ", text).strip()


def has_words(text: str) -> bool:
    return bool(_HAS_WORD_RE.search(text))


# --- Headings and paragraphs in flat text (PDF pages, TXT) ------------------------------------

_ARTICLE_RE = re.compile(
    r"^(?:article|art\.)\s+(?:\d+|premier|[IVXLC]+)(?:\s?(?:er|ère|e|bis|ter))?\b", re.IGNORECASE
)
_NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)(\.?)\s+(?=[A-ZÀ-ÖØ-Þ«\"])")
_ROMAN_RE = re.compile(r"^[IVX]{1,5}\s?[.\-–)]\s+(?=[A-ZÀ-ÖØ-Þ])")
_NUMBERED_START_RE = re.compile(r"^(?:\d|[IVX]+\s?[.)\-–]|article\b|art\.)", re.IGNORECASE)
_BULLET_RE = re.compile(r"^(?:[•▪◦●○■□➢►✓·*+]|[-–—](?=\s)|\d{1,2}\)|[a-z]\))\s*")
# Single uppercase words that are headings in council acts (VU and CONSIDÉRANT are not:
# they open long paragraphs).
_HEADING_WORDS = {
    "ARRÊTE",
    "ARRETE",
    "ARRÊTONS",
    "DÉCIDE",
    "DECIDE",
    "DÉLIBÈRE",
    "DELIBERE",
    "DÉLIBÉRATION",
    "DELIBERATION",
    "PROCÈS-VERBAL",
    "PROCES-VERBAL",
    "SOMMAIRE",
    "PRÉAMBULE",
    "PREAMBULE",
    "ANNEXE",
    "ANNEXES",
    "CONCLUSION",
    "INTRODUCTION",
}


def heading_level(line: str) -> int:
    """Level (2-4) of a line that looks like a heading, 0 otherwise. Errs on 'not a heading'."""
    line = line.strip()
    # A trailing hyphen or comma means the heading, if any, goes on at the next line.
    if len(line) < 3 or len(line) > 120 or line[-1] in ",;-–":
        return 0
    match = _ARTICLE_RE.match(line)
    if match:
        rest = line[match.end() :].strip(" \t:.-–—")
        if not rest or (len(rest) <= 60 and not line.endswith(".")):
            return 2
        return 0
    if line.endswith("."):
        return 0
    match = _NUMBERED_RE.match(line)
    if match and len(line) <= 100:
        number, dot = match.group(1), match.group(2)
        depth = number.count(".") + 1
        if depth > 1 or dot:
            return min(depth + 1, 4)
        return 0
    if _ROMAN_RE.match(line) and len(line) <= 100:
        return 2
    letters = [c for c in line if c.isalpha()]
    mostly_letters = len(letters) >= len(line.replace(" ", "")) * 0.6
    if len(letters) >= 4 and len(line) <= 80 and mostly_letters and line.upper() == line:
        words = [w for w in re.split(r"[\s:]+", line) if any(c.isalpha() for c in w)]
        if len(words) >= 2 or (words and words[0].strip(":") in _HEADING_WORDS):
            return 2
    return 0


def _join(previous: str, line: str) -> str:
    # Keep the hyphen: most breaks after one in these documents are compound words or names.
    if previous.endswith("-") and not previous.endswith(" -"):
        return previous + line
    return previous + " " + line


def text_to_blocks(text: str, page: int = 1) -> list[Block]:
    """Split a page of flat text into heading, list item and paragraph blocks.

    Lines are re-joined into paragraphs; a paragraph ends at a blank line, before a heading or
    a bullet, or after a short line ending a sentence.
    """
    lines = [line.strip() for line in text.splitlines()]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    width = max(lengths[int(len(lengths) * 0.9) - 1 if len(lengths) > 1 else 0], 40)

    blocks: list[Block] = []
    current = ""
    kind = "paragraph"
    last_line = ""
    # True while the previous line was a heading: a second uppercase line may continue it.
    after_heading = False

    def flush() -> None:
        nonlocal current, kind
        if current.strip():
            blocks.append(Block(text=current.strip(), kind=kind, page=page))  # type: ignore[arg-type]
        current, kind = "", "paragraph"

    for line in lines:
        if not line or not has_words(line):
            # Blank lines and rules ("-----", "* * *") separate paragraphs.
            flush()
            last_line = ""
            after_heading = False
            continue
        level = heading_level(line)
        if level:
            flush()
            previous = blocks[-1] if blocks else None
            if (
                previous is not None
                and previous.kind == "heading"
                and after_heading
                and previous.text[-1] not in ".:!?"
                and not _NUMBERED_START_RE.match(line)
                and len(previous.text) + len(line) <= 160
            ):
                # An uppercase heading wrapped over two lines.
                previous.text = _join(previous.text, line)
            else:
                blocks.append(Block(text=line, kind="heading", level=level, page=page))
            last_line = line
            after_heading = True
            continue
        after_heading = False
        bullet = _BULLET_RE.match(line)
        if bullet and line[bullet.end() :].strip():
            flush()
            current, kind = line[bullet.end() :].strip(), "list_item"
            last_line = line
            continue
        if current and last_line:
            ends_sentence = last_line[-1] in '.!?:»"'
            if (ends_sentence and len(last_line) < 0.75 * width) or (
                len(current) > 1500 and last_line[-1] in ".!?"
            ):
                flush()
        current = _join(current, line) if current else line
        last_line = line
    flush()
    return _merge_short_paragraphs(blocks)


_SHORT = 30


def _merge_short_paragraphs(blocks: list[Block]) -> list[Block]:
    """Runs of tiny paragraphs (table cells, one per line in PDFs) become one paragraph."""
    merged: list[Block] = []
    last_piece = ""
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.kind == block.kind == "paragraph"
            and len(last_piece) <= _SHORT
            and len(block.text) <= _SHORT
        ):
            previous.text = f"{previous.text} {block.text}"
        else:
            merged.append(block)
        last_piece = block.text
    return merged


# --- Table rows --------------------------------------------------------------------------------


def format_cell(value: object) -> str:
    """A spreadsheet value as text: dates dd/mm/yyyy, integral floats without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dt.datetime):
        if value.hour or value.minute or value.second:
            return value.strftime("%d/%m/%Y %H:%M")
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}".replace(".", ",")
    return clean_inline(str(value))


def format_row(header: list[str], cells: list[str]) -> str:
    """'En-tête : valeur ; En-tête : valeur', empty cells left out, unnamed columns numbered."""
    parts = []
    for index, value in enumerate(cells):
        if not value:
            continue
        name = header[index] if index < len(header) and header[index] else f"colonne {index + 1}"
        parts.append(f"{name} : {value}" if name != value else value)
    return " ; ".join(parts)


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _french_int(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


_HEADER_LOOKAHEAD = 10


def _filled(cells: list[str]) -> int:
    return sum(1 for c in cells if c)


def _header_index(rows: list[list[str]]) -> int:
    """The header among the first rows: the first one about as wide as the widest and made of
    words, not numbers. Rows above it are sheet titles and notes."""
    widest = max(_filled(cells) for cells in rows)
    for index, cells in enumerate(rows):
        filled = [c for c in cells if c]
        textual = sum(1 for c in filled if any(ch.isalpha() for ch in c))
        if len(filled) >= max(2, 0.6 * widest) and textual * 2 >= len(filled):
            return index
    return next((i for i, cells in enumerate(rows) if _filled(cells) >= 2), 0)


def rows_to_blocks(
    rows: Iterable[Iterable[object]],
    *,
    page: int,
    warnings: list[str],
    label: str,
    max_rows: int | None = None,
) -> list[Block]:
    """Table rows as 'header : value' blocks.

    Rows above the header (see `_header_index`) become paragraphs; a sheet of single cells is
    a one-column table. Cells beyond the header's width are named "colonne N".
    """
    iterator: Iterator[Iterable[object]] = iter(rows)
    non_empty = (cells for cells in (_trim([format_cell(v) for v in raw]) for raw in iterator))
    non_empty = (cells for cells in non_empty if any(cells))

    lookahead: list[list[str]] = []
    for cells in non_empty:
        lookahead.append(cells)
        if len(lookahead) >= _HEADER_LOOKAHEAD:
            break
    if not lookahead:
        return []
    header_index = _header_index(lookahead)
    blocks = [
        Block(text=" ".join(c for c in cells if c), page=page) for cells in lookahead[:header_index]
    ]
    header = lookahead[header_index]
    if max_rows is None:
        max_rows = MAX_ROWS_PER_SHEET
    count = 0
    for cells in itertools.chain(lookahead[header_index + 1 :], non_empty):
        if count >= max_rows:
            warnings.append(
                f"{label} : seules les {_french_int(max_rows)} premières lignes ont été lues."
            )
            break
        text = format_row(header, cells)
        if text:
            blocks.append(Block(text=text, kind="table_row", page=page))
            count += 1
    if count == 0:
        blocks.append(Block(text=" ; ".join(c for c in header if c), kind="table_row", page=page))
    return blocks
