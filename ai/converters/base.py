"""What every converter returns: the text of a document as blocks that remember their page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "table_row", "list_item"]


@dataclass
class Block:
    """One unit of text. Chunking keeps headings and table rows whole where it can."""

    text: str
    kind: BlockKind = "paragraph"
    # Heading level, 1 for a title; 0 for other kinds.
    level: int = 0
    # 1-based page (PDF page, sheet number for spreadsheets, 1 for flat formats).
    page: int = 1


@dataclass
class ConvertedDocument:
    blocks: list[Block]
    page_count: int
    title: str = ""
    # Short name of the format actually read: "pdf", "docx", "xlsx", "csv", "html"...
    format: str = ""
    # Pages whose text came from OCR.
    ocr_pages: list[int] = field(default_factory=list)
    # Non-fatal problems, in French (e.g. "page 3 illisible").
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


class ConversionError(Exception):
    """A document that cannot be read. `str(exc)` is a French message for the user."""
