"""The real type of a file, from its first bytes (the extension is only a tie-breaker)."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from .base import ConversionError
from .common import decode_text, looks_binary

# Format names used by the dispatcher (also ConvertedDocument.format, except images).
EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",
    ".dotx": "docx",
    ".doc": "doc",
    ".dot": "doc",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xltx": "xlsx",
    ".xls": "xls",
    ".xlt": "xls",
    ".odt": "odt",
    ".ods": "ods",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "txt",
    ".text": "txt",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
    ".gif": "image",
    ".bmp": "image",
    ".webp": "image",
}

LABELS = {
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "doc": "Word 97-2003 (.doc)",
    "xlsx": "Excel (.xlsx)",
    "xls": "Excel 97-2003 (.xls)",
    "odt": "OpenDocument texte (.odt)",
    "ods": "OpenDocument classeur (.ods)",
    "csv": "CSV",
    "txt": "texte",
    "markdown": "Markdown",
    "html": "HTML",
    "image": "image",
}

# Formats that are all plain text: the extension chooses how to read them.
TEXT_FORMATS = {"txt", "csv", "markdown"}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"II*\x00",
    b"MM\x00*",
    b"GIF87a",
    b"GIF89a",
)


def extension_format(filename: str) -> str | None:
    return EXTENSIONS.get(PurePath(filename or "").suffix.lower())


def unsupported(what: str) -> ConversionError:
    return ConversionError(
        f"Ce type de fichier n'est pas pris en charge ({what}). Formats acceptés : PDF, Word "
        "(.docx, .doc), Excel (.xlsx, .xls), OpenDocument (.odt, .ods), CSV, HTML, texte, "
        "Markdown et images (PNG, JPEG, TIFF)."
    )


def detect_format(data: bytes, filename: str) -> str:
    """One of LABELS' keys, or ConversionError for what we cannot read."""
    by_extension = extension_format(filename)
    head = data[:2048]

    # Readers accept junk before the header (within 1 KB); text that merely mentions it is not
    # a PDF unless the name says so.
    if data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n\x00").startswith(b"%PDF-"):
        return "pdf"
    if b"%PDF-" in data[:1024] and by_extension == "pdf":
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_format(data, by_extension)
    if head.startswith(_OLE2):
        return _ole_format(data, by_extension)
    if any(head.startswith(sig) for sig in _IMAGE_SIGNATURES):
        return "image"
    # "BM" also starts text ("BMW..."): a bitmap has four zero reserved bytes after the size.
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "image"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image"
    if head.lstrip().startswith(b"{\\rtf"):
        raise ConversionError(
            "Le format RTF n'est pas pris en charge : enregistrez le document en .docx ou en PDF."
        )

    text, _encoding = decode_text(_sample(data))
    if looks_binary(text):
        raise ConversionError(
            "Le fichier ne contient pas de texte lisible : son contenu semble binaire et son "
            "format n'a pas été reconnu."
        )
    if _looks_like_html(text, by_extension):
        return "html"
    if by_extension in TEXT_FORMATS:
        return by_extension
    return "txt"


def _looks_like_html(text: str, by_extension: str | None) -> bool:
    start = text.lstrip("\ufeff \t\r\n")[:2048].lower()
    if start.startswith(("<!doctype html", "<html")):
        return True
    if start.startswith("<?xml") and "<html" in start:
        return True
    if by_extension in TEXT_FORMATS and by_extension != "txt":
        return False
    tags = ("<head", "<body", "<div", "<p>", "<title", "<table", "<meta")
    if by_extension == "html":
        return start.startswith("<") or any(tag in start for tag in tags)
    return start.startswith("<") and any(tag in start for tag in ("<head", "<body", "<title"))


def _zip_format(data: bytes, by_extension: str | None) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        label = LABELS.get(by_extension or "", "compressé")
        raise ConversionError(
            f"Le fichier {label} est endommagé ou incomplet : il n'a pas pu être ouvert."
        ) from exc
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "mimetype" in names:
        info = archive.getinfo("mimetype")
        mimetype = b""
        if info.file_size <= 200:
            try:
                mimetype = archive.read("mimetype")[:200]
            except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError):
                mimetype = b""
        if mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
            return "odt"
        if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            return "ods"
        if mimetype.startswith(b"application/vnd.oasis.opendocument.presentation"):
            raise unsupported("présentation OpenDocument")
    if "content.xml" in names and by_extension in ("odt", "ods"):
        return by_extension
    if "ppt/presentation.xml" in names:
        raise unsupported("présentation PowerPoint")
    raise unsupported("archive ZIP")


def _ole_format(data: bytes, by_extension: str | None) -> str:
    # Stream names sit in the OLE2 directory as UTF-16LE: a byte search finds them.
    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    if has("EncryptedPackage"):
        raise ConversionError(
            "Le document Office est protégé par un mot de passe : il ne peut pas être lu. "
            "Envoyez une version sans mot de passe."
        )
    word, excel = has("WordDocument"), has("Workbook") or has("Book")
    if word and not excel:
        return "doc"
    if excel and not word:
        return "xls"
    if word and excel and by_extension in ("doc", "xls"):
        return by_extension
    if has("PowerPoint Document"):
        raise unsupported("présentation PowerPoint 97-2003")
    if by_extension in ("doc", "xls"):
        return by_extension
    raise unsupported("document Office 97-2003 non reconnu")


def _sample(data: bytes, size: int = 65536) -> bytes:
    """The first `size` bytes, without a UTF-8 sequence cut in half at the end."""
    if len(data) <= size:
        return data
    sample = data[:size]
    for back in range(1, 4):
        byte = sample[-back]
        if byte >= 0xC0:  # lead byte of a sequence that may be incomplete
            return sample[:-back]
        if not 0x80 <= byte < 0xC0:
            break
    return sample
