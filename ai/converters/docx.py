"""DOCX (Word 2007+) with python-docx: headings with levels, lists, tables row by row."""

from __future__ import annotations

import io
import re

from .base import Block, ConvertedDocument
from .common import Options, clean_inline, format_row
from .safezip import open_checked

LABEL = "Word (.docx)"

# Built-in style names as python-docx reports them, in English or French Word.
_HEADING_STYLE = re.compile(r"^(?:heading|titre)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|titre)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"\b(?:list|liste)\b", re.IGNORECASE)
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def convert(data: bytes, options: Options) -> ConvertedDocument:
    import docx

    open_checked(data, LABEL)
    document = docx.Document(io.BytesIO(data))
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if item.__class__.__name__ == "Table":
            blocks.extend(_table_blocks(item))
        else:
            block = _paragraph_block(item)
            if block is not None:
                blocks.append(block)

    title = ""
    try:
        title = clean_inline(document.core_properties.title or "")
    except Exception:  # a malformed docProps/core.xml only costs the title
        title = ""
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading" and b.level <= 2), "")
    return ConvertedDocument(blocks=blocks, page_count=1, title=title[:200], format="docx")


def _paragraph_block(paragraph) -> Block | None:
    text = clean_inline(paragraph.text)
    if not text:
        return None
    style_name = ""
    try:
        style_name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, ValueError, AttributeError):
        style_name = ""
    match = _HEADING_STYLE.match(style_name.strip())
    if match:
        return Block(text=text, kind="heading", level=max(1, min(int(match.group(1)), 6)))
    if _TITLE_STYLE.match(style_name.strip()):
        return Block(text=text, kind="heading", level=1)
    outline = _outline_level(paragraph)
    if outline is not None:
        return Block(text=text, kind="heading", level=outline)
    if _LIST_STYLE.search(style_name) or _is_numbered(paragraph):
        return Block(text=text, kind="list_item")
    return Block(text=text)


def _outline_level(paragraph) -> int | None:
    # Custom heading styles made by hand carry an outline level (0-8) rather than a name.
    ppr = paragraph._p.pPr
    if ppr is None:
        return None
    element = ppr.find(f"{_W_NS}outlineLvl")
    if element is None:
        return None
    try:
        value = int(element.get(f"{_W_NS}val"))
    except (TypeError, ValueError):
        return None
    return value + 1 if 0 <= value < 6 else None


def _is_numbered(paragraph) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.find(f"{_W_NS}numPr") is not None


def _table_blocks(table) -> list[Block]:
    rows: list[list[str]] = []
    for index, row in enumerate(table.rows):
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A merged cell comes back once per grid column it spans. In the header row its
            # name covers every column; in other rows its value is kept once.
            repeated = previous is not None and cell._tc is previous
            previous = cell._tc
            if repeated and index > 0:
                cells.append("")
            else:
                cells.append(clean_inline(cell.text))
        if any(cells):
            rows.append(cells)
    if not rows:
        return []
    if len(rows) == 1:
        return [Block(text=" ; ".join(_unique(rows[0])), kind="table_row")]
    header = rows[0]
    blocks = []
    for cells in rows[1:]:
        text = format_row(header, cells)
        if text:
            blocks.append(Block(text=text, kind="table_row"))
    return blocks


def _unique(cells: list[str]) -> list[str]:
    out: list[str] = []
    for cell in cells:
        if cell and (not out or out[-1] != cell):
            out.append(cell)
    return out
