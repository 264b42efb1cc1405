"""Structure-following chunking with stable, content-derived ids.

A chunk never spans two pages (citations name one page), starts afresh at each heading, and
keeps table rows and paragraphs whole unless one alone is longer than the maximum. Each chunk
remembers the headings above it ("Titre > Sous-titre"), which are also embedded with it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from ai.converters.base import Block

TARGET_CHARS = 900
MAX_CHARS = 1400
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_NAMESPACE = uuid.UUID("6f1c3c1e-8d4b-4b5e-9f60-3b8f2a7c9d10")


@dataclass
class ChunkDraft:
    order: int
    text: str
    page: int
    heading_path: str

    def embed_text(self, title: str = "") -> str:
        """What the embedders see: document title and headings give the passage its topic."""
        context = " > ".join(p for p in (title, self.heading_path) if p)
        return f"{context}\n{self.text}" if context else self.text


def _split_long(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Split an over-long paragraph at sentence ends, then at spaces."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut], sentence[cut:].lstrip()
            if current:
                parts.append(current)
                current = ""
            parts.append(head)
        if current and len(current) + 1 + len(sentence) > TARGET_CHARS:
            parts.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts


def chunk_blocks(blocks: list[Block]) -> list[ChunkDraft]:
    """Group blocks into passages of about TARGET_CHARS characters."""
    chunks: list[ChunkDraft] = []
    headings: list[tuple[int, str]] = []
    buffer: list[str] = []
    buffer_page = 1

    def flush() -> None:
        nonlocal buffer
        if buffer:
            text = "\n".join(buffer).strip()
            if text:
                path = " > ".join(h for _, h in headings)
                chunks.append(ChunkDraft(len(chunks), text, buffer_page, path[:1000]))
        buffer = []

    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        if block.page != buffer_page:
            flush()
            buffer_page = block.page
        if block.kind == "heading":
            flush()
            level = max(block.level, 1)
            headings = [(lvl, h) for lvl, h in headings if lvl < level]
            headings.append((level, text[:200]))
            continue
        for piece in _split_long(text):
            size = sum(len(b) + 1 for b in buffer)
            if buffer and size + len(piece) > TARGET_CHARS:
                flush()
            buffer.append(piece)
    flush()
    return chunks


def chunk_id(document_id: int, draft: ChunkDraft, occurrence: int = 0) -> uuid.UUID:
    """Stable id: same document, same passage (text, page, headings) → same id."""
    digest = hashlib.sha256(
        f"{draft.page}\x1f{draft.heading_path}\x1f{draft.text}".encode()
    ).hexdigest()
    return uuid.uuid5(_NAMESPACE, f"{document_id}:{digest}:{occurrence}")
