"""OpenDocument text (ODT: paragraphs, headings with outline level) and spreadsheets (ODS)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

from .base import Block, ConversionError, ConvertedDocument
from .common import Options, clean_inline, format_row, rows_to_blocks
from .safezip import open_checked, read_member

LABELS = {"odt": "OpenDocument texte (.odt)", "ods": "OpenDocument classeur (.ods)"}
# Repeated empty cells and rows pad sheets to their full size (1 048 576 rows): never expand
# those, and cap repeats of cells that hold something.
_MAX_COLUMNS = 1024
_MAX_ROW_REPEAT = 1000

_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
# Elements whose children are read as if they were in the body.
_CONTAINERS = {
    (_TEXT_NS, "section"),
    (_TEXT_NS, "index-body"),
    (_TEXT_NS, "table-of-content"),
    (_TABLE_NS, "table-header-rows"),
    (_TABLE_NS, "table-row-group"),
}


def convert_odt(data: bytes, options: Options) -> ConvertedDocument:
    document = _load(data, "odt")
    blocks = list(_text_blocks(document.text))
    title = _meta_title(document) or next(
        (b.text for b in blocks if b.kind == "heading" and b.level <= 2), ""
    )
    return ConvertedDocument(blocks=blocks, page_count=1, title=title[:200], format="odt")


def convert_ods(data: bytes, options: Options) -> ConvertedDocument:
    from odf.table import Table

    document = _load(data, "ods")
    warnings: list[str] = []
    blocks: list[Block] = []
    tables = document.spreadsheet.getElementsByType(Table)
    for index, table in enumerate(tables, start=1):
        name = clean_inline(table.getAttribute("name") or "") or f"Feuille {index}"
        blocks.append(Block(text=name, kind="heading", level=1, page=index))
        blocks.extend(
            rows_to_blocks(
                _table_rows(table),
                page=index,
                warnings=warnings,
                label=f"Feuille « {name} »",
            )
        )
    return ConvertedDocument(
        blocks=blocks,
        page_count=len(tables),
        title=_meta_title(document),
        format="ods",
        warnings=warnings,
    )


def _load(data: bytes, kind: str):
    from odf.opendocument import load

    archive = open_checked(data, LABELS[kind])
    try:
        manifest = read_member(archive, "META-INF/manifest.xml", limit=5 * 1024 * 1024)
    except KeyError:
        manifest = b""
    if b"encryption-data" in manifest:
        raise ConversionError(
            "Le document OpenDocument est protégé par un mot de passe : il ne peut pas être lu. "
            "Envoyez une version sans mot de passe."
        )
    return load(io.BytesIO(data))


def _meta_title(document) -> str:
    from odf.dc import Title

    try:
        titles = document.meta.getElementsByType(Title)
    except AttributeError:
        return ""
    return clean_inline(_text(titles[0])) if titles else ""


def _text(element) -> str:
    from odf import teletype

    return teletype.extractText(element)


def _cell_text(cell) -> str:
    """Paragraphs of a cell, one space apart, without its comments (office:annotation)."""
    parts: list[str] = []
    for child in cell.childNodes:
        namespace, name = _local(child)
        if namespace == _TEXT_NS and name in ("p", "h"):
            parts.append(_text(child))
        elif namespace == _TEXT_NS and name in ("list", "list-item"):
            parts.append(_cell_text(child))
    return clean_inline(" ".join(parts))


def _local(element) -> tuple[str, str]:
    qname = getattr(element, "qname", None)
    return qname if isinstance(qname, tuple) else ("", "")


# --- ODT ---------------------------------------------------------------------------------------


def _text_blocks(parent, in_list: bool = False) -> Iterator[Block]:
    for child in parent.childNodes:
        namespace, name = _local(child)
        if namespace == _TEXT_NS and name == "h":
            text = clean_inline(_text(child))
            if text:
                try:
                    level = int(child.getAttribute("outlinelevel") or 1)
                except (TypeError, ValueError):
                    level = 1
                yield Block(text=text, kind="heading", level=max(1, min(level, 6)))
        elif namespace == _TEXT_NS and name == "p":
            text = clean_inline(_text(child))
            if text:
                yield Block(text=text, kind="list_item" if in_list else "paragraph")
        elif namespace == _TEXT_NS and name in ("list", "list-item", "list-header"):
            yield from _text_blocks(child, in_list=True)
        elif namespace == _TABLE_NS and name == "table":
            yield from _odt_table_blocks(child)
        elif (namespace, name) in _CONTAINERS:
            yield from _text_blocks(child, in_list=in_list)


def _odt_table_blocks(table) -> Iterator[Block]:
    rows = [[c for c in row] for row in _table_rows(table)]
    rows = [row for row in rows if any(row)]
    if not rows:
        return
    header = [str(c) for c in rows[0]]
    if len(rows) == 1:
        yield Block(text=" ; ".join(c for c in header if c), kind="table_row")
        return
    for row in rows[1:]:
        text = format_row(header, [str(c) for c in row])
        if text:
            yield Block(text=text, kind="table_row")


# --- Tables (ODS sheets and ODT tables) --------------------------------------------------------


def _iter_rows(parent) -> Iterator:
    for child in parent.childNodes:
        namespace, name = _local(child)
        if namespace != _TABLE_NS:
            continue
        if name == "table-row":
            yield child
        elif name in ("table-header-rows", "table-row-group", "table-rows"):
            yield from _iter_rows(child)


def _table_rows(table) -> Iterator[list[object]]:
    for row in _iter_rows(table):
        cells = _row_cells(row)
        if not any(cells):
            continue
        try:
            repeat = int(row.getAttribute("numberrowsrepeated") or 1)
        except (TypeError, ValueError):
            repeat = 1
        for _ in range(min(max(repeat, 1), _MAX_ROW_REPEAT)):
            yield cells


def _row_cells(row) -> list[str]:
    cells: list[str] = []
    for cell in row.childNodes:
        namespace, name = _local(cell)
        if namespace != _TABLE_NS or name not in ("table-cell", "covered-table-cell"):
            continue
        try:
            repeat = int(cell.getAttribute("numbercolumnsrepeated") or 1)
        except (TypeError, ValueError):
            repeat = 1
        value = "" if name == "covered-table-cell" else _cell_value(cell)
        room = _MAX_COLUMNS - len(cells)
        if room <= 0:
            break
        cells.extend([value] * min(max(repeat, 1), room))
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _cell_value(cell) -> str:
    from .common import format_cell

    value_type = cell.getAttribute("valuetype") or ""
    if value_type == "date":
        raw = cell.getAttribute("datevalue") or ""
        try:
            return format_cell(dt.datetime.fromisoformat(raw))
        except ValueError:
            pass
    elif value_type in ("float", "percentage", "currency"):
        # Keep the displayed text for currencies and percentages ("12 %", "3,50 €").
        text = _cell_text(cell)
        if value_type == "float" or not text:
            try:
                return format_cell(float(cell.getAttribute("value")))
            except (TypeError, ValueError):
                pass
        return text
    elif value_type == "boolean":
        return "oui" if (cell.getAttribute("booleanvalue") or "") == "true" else "non"
    return _cell_text(cell)
