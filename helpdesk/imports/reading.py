"""Reading an import file: CSV (encoding and separator detected) or XLSX."""

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings

from ai.converters.common import decode_text, looks_binary
from ai.text import fold

logger = logging.getLogger(__name__)

START_ACTION = "helpdesk.import_start"
# Rows per transaction; progress is saved after each batch.
BATCH_SIZE = 100
PREVIEW_ROWS = 5
# Refused rows kept in the report: beyond that, a count.
MAX_REPORTED_ERRORS = 1000


def max_rows() -> int:
    return getattr(settings, "HELPDESK_IMPORT_MAX_ROWS", 100_000)


def max_bytes() -> int:
    return getattr(settings, "HELPDESK_IMPORT_MAX_BYTES", 30 * 1024 * 1024)


class ImportFileError(Exception):
    """The file or the mapping as a whole cannot be used; the message is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RowError(Exception):
    """One row is refused; the message is French and says why."""


# --- Reading the file ------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    # (line number in the file, header = its own line; cells as text)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""


_DELIMITERS = (";", ",", "\t")


def _key(name: str) -> str:
    """Header or label key: lower case, no accents, words separated by single spaces."""
    return " ".join(re.split(r"[^a-z0-9]+", fold(str(name).strip().lstrip("\ufeff")))).strip()


def _too_many(count: int) -> ImportFileError:
    return ImportFileError(
        f"Le fichier contient plus de {max_rows()} lignes : découpez-le en plusieurs fichiers "
        f"({count} lignes lues avant l'arrêt)."
    )


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV (UTF-8 with or without BOM, cp1252; `;`, `,` or tab) or an XLSX file (first
    sheet). The header is the first non-empty row; empty rows are skipped. Raises
    `ImportFileError` (French) when the file cannot be read as a table."""
    if not data or not data.strip():
        raise ImportFileError("Le fichier est vide.")
    if len(data) > max_bytes():
        raise ImportFileError(
            f"Le fichier dépasse {max_bytes() // (1024 * 1024)} Mo : découpez-le en plusieurs "
            "fichiers."
        )
    suffix = PurePath(filename or "").suffix.lower()
    if data.startswith(b"%PDF"):
        raise ImportFileError(
            "Ce fichier est un PDF, pas un tableau : exportez les tickets au format CSV ou "
            "Excel (XLSX) depuis l'outil d'origine."
        )
    if data.startswith(b"PK\x03\x04") or suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "Ce fichier est un classeur Excel ancien format (XLS) : enregistrez-le au format "
            "XLSX ou CSV puis importez-le."
        )
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    text, encoding = decode_text(data)
    if "\x00" in text or looks_binary(text):
        raise ImportFileError(
            "Le fichier n'est pas un fichier CSV lisible : son contenu semble binaire. "
            "Importez un fichier CSV ou XLSX avec une ligne d'en-tête."
        )
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    skip = 0
    delimiter = ""
    if lines and re.fullmatch(r"sep=.", lines[0].strip()):
        delimiter, skip = lines[0].strip()[-1], 1
    content = [line for line in lines[skip:] if line.strip()]
    if not content:
        raise ImportFileError("Le fichier est vide.")
    if not delimiter:
        # The delimiter that splits the header into the most cells, ';' (French) on a tie.
        header = content[0]
        delimiter = max(
            _DELIMITERS, key=lambda d: (len(next(csv.reader([header], delimiter=d))), d == ";")
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = Table(headers=[], encoding=encoding, delimiter=delimiter)
    header_seen = False
    previous_end = 0
    try:
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if start <= skip or not any(cell.strip() for cell in row):
                continue
            if not header_seen:
                table.headers = [cell.strip() for cell in row]
                header_seen = True
                continue
            if len(table.rows) >= max_rows():
                raise _too_many(len(table.rows))
            table.rows.append((start, row))
    except csv.Error as exc:
        raise ImportFileError(
            f"Fichier CSV mal formé à la ligne {previous_end + 1} ({exc}) : vérifiez les "
            "guillemets et le séparateur."
        ) from exc
    return table


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors)
        raise ImportFileError(
            "Le classeur Excel n'a pas pu être lu (fichier abîmé, protégé par un mot de passe "
            "ou d'un autre format) : enregistrez-le à nouveau au format XLSX ou CSV."
        ) from exc
    try:
        if not workbook.worksheets:
            raise ImportFileError("Le classeur ne contient aucune feuille.")
        sheet = workbook.worksheets[0]
        table = Table(headers=[], encoding="xlsx")
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            if not table.headers:
                table.headers = [c.strip() for c in cells]
                continue
            if len(table.rows) >= max_rows():
                raise _too_many(len(table.rows))
            table.rows.append((number, cells))
    finally:
        workbook.close()
    if not table.headers:
        raise ImportFileError("Le fichier est vide.")
    # Trailing empty header cells (formatted but unused columns) are not columns.
    while table.headers and not table.headers[-1]:
        table.headers.pop()
    return table
