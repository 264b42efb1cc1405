"""Images (PNG, JPEG, TIFF...): OCR with Tesseract in French; one page per TIFF frame."""

from __future__ import annotations

import io

from . import ocr as ocr_mod
from .base import Block, ConversionError, ConvertedDocument
from .common import Options, file_stem, text_to_blocks

# Pillow refuses (DecompressionBombError) past twice its own default; we refuse earlier.
MAX_IMAGE_PIXELS = 100_000_000
MAX_FRAMES = 200


def convert(data: bytes, options: Options) -> ConvertedDocument:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not options.ocr:
        raise ConversionError(
            "Cette image n'a pas été lue : la reconnaissance de texte (OCR) est désactivée."
        )
    reason = ocr_mod.unavailable_reason()
    if reason:
        raise ConversionError(
            f"La reconnaissance de texte (OCR) n'est pas disponible sur ce serveur ({reason}) : "
            "l'image n'a pas pu être lue."
        )
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ConversionError("L'image est endommagée ou dans un format non reconnu.") from exc
    except Image.DecompressionBombError as exc:
        raise ConversionError("L'image est trop grande pour être lue.") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise ConversionError("L'image est trop grande pour être lue.")

    frames = min(getattr(image, "n_frames", 1) or 1, MAX_FRAMES)
    limit = options.max_ocr_pages
    todo = frames if limit is None else min(frames, max(limit, 0))
    warnings: list[str] = []
    if todo < frames:
        warnings.append(
            f"Seules les {todo} premières pages de l'image ont été lues (limite de la "
            "reconnaissance de texte)."
        )
    blocks: list[Block] = []
    ocr_pages: list[int] = []
    for index in range(todo):
        try:
            image.seek(index)
            frame = ImageOps.exif_transpose(image.copy())
            frame.load()
        except (OSError, ValueError, EOFError) as exc:
            if index == 0:
                raise ConversionError("L'image est endommagée ou incomplète.") from exc
            warnings.append(f"Page {index + 1} de l'image illisible.")
            continue
        text = ocr_mod.image_to_text(frame, dpi=_dpi(frame))
        page_blocks = text_to_blocks(text, page=index + 1)
        if page_blocks:
            blocks.extend(page_blocks)
            ocr_pages.append(index + 1)
    if not any(b.text.strip() for b in blocks):
        raise ConversionError(
            "Aucun texte n'a été reconnu dans l'image : elle ne contient peut-être pas de texte, "
            "ou il est trop petit ou trop flou pour être lu."
        )
    return ConvertedDocument(
        blocks=blocks,
        page_count=frames,
        title=file_stem(options.filename),
        format="image",
        ocr_pages=ocr_pages,
        warnings=warnings,
    )


def _dpi(image) -> int | None:
    # Screenshots say 72 or 96 dpi, which is not the size of their letters: only trust values
    # that scanners write.
    try:
        value = round(float(image.info.get("dpi", (0, 0))[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return value if 150 <= value <= 1200 else None
