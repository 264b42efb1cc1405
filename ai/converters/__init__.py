"""Document converters: bytes in, text blocks that remember their page out.

    from ai.converters import convert, ConversionError
    document = convert(data, "deliberation.pdf", max_bytes=50 * 1024 * 1024)

The real type is read from the content (magic bytes, zip members, OLE2 streams, HTML
sniffing), not from the extension. When the two disagree and the content is readable, the file
is converted according to its content and the mismatch is reported in `warnings`: a PDF saved
as "rapport.docx" is still a PDF worth indexing, and the user learns why it was not read as Word.

Every failure is a `ConversionError` whose message is French and meant for the user; an
unexpected library exception is logged (logger "ai.converters") and turned into one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import PurePath

from .base import Block, ConversionError, ConvertedDocument
from .common import Options, clean_inline, file_stem, has_words, human_mb
from .detect import LABELS, TEXT_FORMATS, detect_format, extension_format

__all__ = ["Block", "ConversionError", "ConvertedDocument", "convert", "detect_format"]

logger = logging.getLogger("ai.converters")

Converter = Callable[[bytes, Options], ConvertedDocument]


def _converters() -> dict[str, Converter]:
    # Imported lazily so that importing ai.converters stays cheap for the web process.
    from . import csv_, doc, docx, html, image, odf, pdf, text, xls, xlsx

    return {
        "pdf": pdf.convert,
        "docx": docx.convert,
        "doc": doc.convert,
        "xlsx": xlsx.convert,
        "xls": xls.convert,
        "odt": odf.convert_odt,
        "ods": odf.convert_ods,
        "csv": csv_.convert,
        "html": html.convert,
        "txt": text.convert_text,
        "markdown": text.convert_markdown,
        "image": image.convert,
    }


def convert(
    data: bytes,
    filename: str,
    *,
    max_bytes: int | None = None,
    ocr: bool = True,
    max_ocr_pages: int | None = None,
) -> ConvertedDocument:
    """Convert a document to text blocks with page numbers.

    `max_bytes` refuses larger files before any parsing; `ocr=False` skips Tesseract (scanned
    pages are then reported in `warnings`); `max_ocr_pages` caps how many pages are OCR'd.
    Raises ConversionError (French message) for anything that cannot be read.
    """
    if not data:
        raise ConversionError("Le fichier est vide.")
    if max_bytes is not None and len(data) > max_bytes:
        raise ConversionError(
            f"Le fichier est trop volumineux ({human_mb(len(data))}) : la limite est de "
            f"{human_mb(max_bytes)}."
        )

    try:
        fmt = detect_format(data, filename)
    except ConversionError:
        raise
    except Exception as exc:
        logger.exception("Type de fichier indéterminé pour %r", filename)
        raise ConversionError(
            "Le fichier n'a pas pu être lu : son type n'a pas été reconnu."
        ) from exc

    warnings: list[str] = []
    expected = extension_format(filename)
    if expected and expected != fmt and not (expected in TEXT_FORMATS and fmt in TEXT_FORMATS):
        suffix = PurePath(filename).suffix.lower()
        warnings.append(
            f"Le fichier porte l'extension {suffix} mais son contenu est au format "
            f"{LABELS[fmt]} : il a été lu comme tel."
        )

    options = Options(filename=filename, ocr=ocr, max_ocr_pages=max_ocr_pages)
    try:
        document = _converters()[fmt](data, options)
    except ConversionError:
        raise
    except MemoryError as exc:
        logger.exception("Mémoire insuffisante pour convertir %r (%s)", filename, fmt)
        raise ConversionError(
            f"Le fichier est trop complexe pour être lu (format {LABELS[fmt]})."
        ) from exc
    except Exception as exc:
        logger.exception("Échec de la conversion de %r (%s)", filename, fmt)
        raise ConversionError(
            f"Le fichier n'a pas pu être lu (format {LABELS[fmt]}) : il est peut-être "
            "endommagé. Enregistrez-le à nouveau ou envoyez-le dans un autre format."
        ) from exc

    document.blocks = _clean_blocks(document.blocks)
    document.warnings = warnings + document.warnings
    document.format = document.format or fmt
    document.page_count = max(document.page_count, 1)
    document.title = clean_inline(document.title) or file_stem(filename)
    if not document.blocks:
        raise ConversionError(
            " ".join(["Le document ne contient aucun texte exploitable.", *document.warnings])
        )
    return document


def _clean_blocks(blocks: list[Block]) -> list[Block]:
    cleaned = []
    for block in blocks:
        text = clean_inline(block.text)
        if not text or not has_words(text):
            continue
        block.text = text
        block.level = max(block.level, 1) if block.kind == "heading" else 0
        block.page = max(block.page, 1)
        cleaned.append(block)
    return cleaned
