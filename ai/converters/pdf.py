"""PDF: the text layer page by page, OCR of pages without one (Tesseract).

pypdf opens the file, checks it (truncation, encryption) and reads its metadata; PDFium (pypdfium2)
extracts the text layer and renders scanned pages. PDFium's extractor is C++ and about five times
faster than pypdf's pure-Python one, which made text extraction cost more than the embedding on
text PDFs (bench/ingest.py: overhead 1.57 with pypdf, 1.17 with PDFium); pypdf's extractor stays
as the fallback for a page PDFium cannot read.
"""

from __future__ import annotations

import io
import logging
import re

from . import ocr as ocr_mod
from .base import Block, ConversionError, ConvertedDocument
from .common import Options, clean_inline, looks_binary, text_to_blocks

logger = logging.getLogger("ai.converters")

# A page with less text than this is treated as scanned (page numbers, stray stamps...).
MIN_TEXT_CHARS = 20
OCR_DPI = 300

DAMAGED = (
    "Le PDF est endommagé ou incomplet : il n'a pas pu être lu. "
    "Envoyez une copie complète du fichier (le téléchargement a peut-être été interrompu)."
)
ENCRYPTED = (
    "Le PDF est protégé par un mot de passe : il ne peut pas être lu. "
    "Envoyez une version sans mot de passe."
)


def convert(data: bytes, options: Options) -> ConvertedDocument:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    # The file trailer ends with %%EOF within the last kilobyte; without it the download or
    # upload was cut, and what pypdf could salvage would silently miss pages.
    if b"%%EOF" not in data[-1024:]:
        raise ConversionError(DAMAGED)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise ConversionError(DAMAGED) from exc

    if reader.is_encrypted:
        # Many PDFs are "encrypted" only to restrict printing or copying, with an empty
        # user password: they open with it.
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise ConversionError(
                "Le PDF est chiffré avec un algorithme non pris en charge sur ce serveur."
            ) from exc
        except (PdfReadError, ValueError, KeyError, NotImplementedError) as exc:
            raise ConversionError(ENCRYPTED) from exc
        if not opened:
            raise ConversionError(ENCRYPTED)

    try:
        page_count = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise ConversionError(ENCRYPTED) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ConversionError(DAMAGED) from exc
    if page_count == 0:
        raise ConversionError(DAMAGED)

    warnings: list[str] = []
    import pypdfium2 as pdfium

    try:
        # Encrypted files reaching this point opened with the empty user password in pypdf.
        pdf = pdfium.PdfDocument(data, password="" if reader.is_encrypted else None)
    except pdfium.PdfiumError:
        logger.warning("PDFium ne peut pas ouvrir %s, lecture par pypdf", options.filename)
        pdf = None
    try:
        texts = {
            number: _page_text(pdf, reader, number, options, warnings)
            for number in range(1, page_count + 1)
        }
        # A text layer of private-use or control characters (fonts without a Unicode map) is
        # as good as none: OCR reads the page better.
        binary = {n for n, text in texts.items() if looks_binary(text)}
        without_text = [
            n for n, text in texts.items() if len(text.strip()) < MIN_TEXT_CHARS or n in binary
        ]
        ocr_pages: list[int] = []
        if without_text:
            ocr_pages = _ocr_pages(pdf, without_text, texts, options, warnings)
    finally:
        if pdf is not None:
            pdf.close()

    blocks: list[Block] = []
    for number in range(1, page_count + 1):
        if number not in ocr_pages and number in binary:
            continue  # unreadable text layer that OCR did not replace
        blocks.extend(text_to_blocks(texts[number], page=number))

    return ConvertedDocument(
        blocks=blocks,
        page_count=page_count,
        title=_metadata_title(reader) or _first_heading(blocks),
        format="pdf",
        ocr_pages=ocr_pages,
        warnings=warnings,
    )


def _page_text(pdf, reader, number: int, options: Options, warnings: list[str]) -> str:
    if pdf is not None:
        try:
            textpage = pdf[number - 1].get_textpage()
            # PDFium ends lines with CRLF.
            return textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
        except Exception:  # pypdf gets a second chance below
            logger.info("PDFium : page %s de %s illisible", number, options.filename)
    try:
        return reader.pages[number - 1].extract_text() or ""
    except Exception:  # one bad page must not lose the others
        logger.warning("Page %s illisible dans %s", number, options.filename, exc_info=True)
        warnings.append(f"Page {number} : le texte n'a pas pu être extrait.")
        return ""


def _ocr_pages(
    document,
    pages: list[int],
    texts: dict[int, str],
    options: Options,
    warnings: list[str],
) -> list[int]:
    """OCR the given pages in place in `texts`; returns the pages that got text from OCR."""
    listed = _page_list(pages)
    if not options.ocr:
        warnings.append(
            f"Pages sans texte non lues (reconnaissance de texte désactivée) : {listed}."
        )
        return []
    reason = ocr_mod.unavailable_reason()
    if reason:
        warnings.append(f"Pages sans texte non lues : {listed} ({reason}).")
        return []
    limit = options.max_ocr_pages
    todo = pages if limit is None else pages[: max(limit, 0)]
    skipped = pages[len(todo) :]
    if skipped:
        warnings.append(
            f"Pages sans texte non lues (limite de {limit} pages en reconnaissance de texte) : "
            f"{_page_list(skipped)}."
        )
    if not todo:
        return []

    done: list[int] = []
    if document is None:
        warnings.append(f"Pages sans texte non lues (rendu impossible) : {listed}.")
        return []
    for number in todo:
        try:
            page = document[number - 1]
            width, height = page.get_size()
            scale = OCR_DPI / 72
            # Posters and plans: cap the bitmap, Tesseract gains nothing past ~40 Mpx.
            pixels = width * height * scale * scale
            if pixels > ocr_mod.MAX_PIXELS:
                scale *= (ocr_mod.MAX_PIXELS / pixels) ** 0.5
            image = page.render(scale=scale, grayscale=True).to_pil()
            text = ocr_mod.image_to_text(image, dpi=round(72 * scale))
        except ConversionError as exc:
            message = str(exc)
            warnings.append(f"Page {number} : {message[:1].lower()}{message[1:]}")
            continue
        except Exception:
            logger.warning("OCR impossible page %s de %s", number, options.filename, exc_info=True)
            warnings.append(f"Page {number} : la reconnaissance de texte a échoué.")
            continue
        if len(text.strip()) >= 3:
            # OCR reads the page number or stamp the text layer had, too: replace it.
            texts[number] = text
            done.append(number)
    return done


def _page_list(pages: list[int]) -> str:
    if len(pages) > 12:
        return ", ".join(str(p) for p in pages[:12]) + f"… ({len(pages)} pages)"
    return ", ".join(str(p) for p in pages)


_PRODUCER_PREFIX = re.compile(
    r"^(microsoft (word|excel|powerpoint)|libreoffice|openoffice)\s*[-–:]\s*", re.IGNORECASE
)
_FILE_SUFFIX = re.compile(r"\.(docx?|xlsx?|odt|pptx?|pdf|rtf)$", re.IGNORECASE)


def _metadata_title(reader) -> str:
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:  # malformed info dictionaries are common and harmless
        return ""
    if not raw:
        return ""
    title = clean_inline(str(raw))
    title = _FILE_SUFFIX.sub("", _PRODUCER_PREFIX.sub("", title)).strip()
    # Scanner names ("KM_C250i_S2303...") and short codes ("DCM") are not titles.
    words = [w for w in title.split() if any(c.isalpha() for c in w)]
    if len(words) < 2 or len(title) < 6 or ("_" in title and " " not in title):
        return ""
    return title


def _first_heading(blocks: list[Block]) -> str:
    for block in blocks[:80]:
        if block.kind == "heading" and len(block.text.split()) >= 2:
            return clean_inline(block.text)[:200]
    return ""
