"""Plain text and Markdown ('#' headings, lists). A form feed starts a new page."""

from __future__ import annotations

import re

from .base import Block, ConvertedDocument
from .common import (
    Options,
    clean_inline,
    decode_readable,
    file_stem,
    format_row,
    text_to_blocks,
)

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_SETEXT = re.compile(r"^(=+|-+)\s*$")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")


def convert_text(data: bytes, options: Options) -> ConvertedDocument:
    text = decode_readable(data)
    pages = text.split("\f")
    blocks: list[Block] = []
    for number, page in enumerate(pages, start=1):
        blocks.extend(text_to_blocks(page, page=number))
    title = next((b.text for b in blocks[:20] if b.kind == "heading"), "") or file_stem(
        options.filename
    )
    return ConvertedDocument(blocks=blocks, page_count=len(pages), title=title, format="txt")


def convert_markdown(data: bytes, options: Options) -> ConvertedDocument:
    text = decode_readable(data)
    blocks = markdown_blocks(text)
    title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return ConvertedDocument(
        blocks=blocks, page_count=1, title=title or file_stem(options.filename), format="markdown"
    )


def markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    buffer: list[str] = []
    kind = "paragraph"
    in_fence = False
    table_header: list[str] | None = None
    table_rows = 0

    def end_table() -> None:
        nonlocal table_header, table_rows
        if table_header is not None and table_rows == 0:
            blocks.append(Block(text=" ; ".join(c for c in table_header if c), kind="table_row"))
        table_header, table_rows = None, 0

    def flush() -> None:
        nonlocal buffer, kind
        joined = clean_inline(" ".join(buffer))
        if joined:
            blocks.append(Block(text=_strip_inline_markup(joined), kind=kind))  # type: ignore[arg-type]
        buffer, kind = [], "paragraph"

    for line in text.splitlines():
        if _MD_FENCE.match(line):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            buffer.append(line)
            continue
        stripped = line.strip()
        if not stripped:
            flush()
            end_table()
            continue
        if stripped.startswith("|") and stripped.endswith("|"):
            flush()
            cells = [_strip_inline_markup(clean_inline(c)) for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            if table_header is None:
                table_header = cells
            else:
                row = format_row(table_header, cells)
                if row:
                    blocks.append(Block(text=row, kind="table_row"))
                    table_rows += 1
            continue
        end_table()
        heading = _MD_HEADING.match(stripped)
        if heading:
            flush()
            blocks.append(
                Block(
                    text=_strip_inline_markup(clean_inline(heading.group(2))),
                    kind="heading",
                    level=len(heading.group(1)),
                )
            )
            continue
        setext = _MD_SETEXT.match(stripped)
        if setext and buffer and kind == "paragraph":
            # "Title\n=====" underlines the paragraph just read.
            title = clean_inline(" ".join(buffer))
            buffer = []
            blocks.append(
                Block(
                    text=_strip_inline_markup(title),
                    kind="heading",
                    level=1 if stripped.startswith("=") else 2,
                )
            )
            continue
        item = _MD_LIST.match(line)
        if item:
            flush()
            buffer, kind = [item.group(1)], "list_item"
            continue
        buffer.append(stripped.lstrip("> ").strip() if stripped.startswith(">") else stripped)
    flush()
    end_table()
    return [b for b in blocks if b.text]


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")


def _strip_inline_markup(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)
