"""Guards for zip-based formats (DOCX, XLSX, ODT, ODS) against zip bombs.

Two layers: the central directory is checked before any library opens the file (declared sizes,
compression ratio, number of members), then every member is inflated once in a streaming loop
that stops as soon as the real output passes the budget, so a header that lies about sizes
cannot make us inflate more than the budget either.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from .base import ConversionError

# Total uncompressed size accepted for one document, whatever its compressed size.
MAX_TOTAL_UNCOMPRESSED = 200 * 1024 * 1024
# Office XML compresses well (10-20x); above this ratio, and past the floor below, it is a bomb.
MAX_RATIO = 100
RATIO_FLOOR = 20 * 1024 * 1024
MAX_MEMBERS = 10_000
_CHUNK = 1024 * 1024

BOMB_MESSAGE = (
    "Le fichier est anormalement compressé (archive piégée ?) : il n'a pas été ouvert. "
    "Enregistrez-le à nouveau depuis votre logiciel de bureautique."
)


class ZipBombError(ConversionError):
    pass


def damaged(label: str) -> ConversionError:
    return ConversionError(
        f"Le fichier {label} est endommagé ou incomplet : il n'a pas pu être ouvert. "
        "Enregistrez-le à nouveau ou envoyez une autre copie."
    )


def open_zip(data: bytes, label: str) -> zipfile.ZipFile:
    """Open an archive after checking its central directory (no member is inflated)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise damaged(label) from exc
    if len(infos) > MAX_MEMBERS:
        raise ZipBombError(BOMB_MESSAGE)
    declared = sum(max(info.file_size, 0) for info in infos)
    compressed = max(len(data), 1)
    if declared > MAX_TOTAL_UNCOMPRESSED or (
        declared > RATIO_FLOOR and declared > MAX_RATIO * compressed
    ):
        raise ZipBombError(BOMB_MESSAGE)
    return archive


def read_member(
    archive: zipfile.ZipFile, name: str, limit: int = MAX_TOTAL_UNCOMPRESSED, label: str = ""
) -> bytes:
    """Read one member, refusing to inflate more than `limit` bytes whatever its header says."""
    parts: list[bytes] = []
    total = 0
    try:
        with archive.open(name) as member:
            while True:
                chunk = member.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise ZipBombError(BOMB_MESSAGE)
                parts.append(chunk)
    except ZipBombError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise damaged(label or "compressé") from exc
    return b"".join(parts)


def check_inflation(archive: zipfile.ZipFile, label: str, limit: int = MAX_TOTAL_UNCOMPRESSED):
    """Inflate every member once, discarding the output, within one shared budget.

    Also verifies CRCs, so a damaged archive fails here with a clear message rather than deep
    inside a parser.
    """
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        try:
            with archive.open(info) as member:
                while True:
                    chunk = member.read(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > limit:
                        raise ZipBombError(BOMB_MESSAGE)
        except ZipBombError:
            raise
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            raise damaged(label) from exc


def open_checked(data: bytes, label: str) -> zipfile.ZipFile:
    """`open_zip` then `check_inflation`: what every zip-based converter calls first."""
    archive = open_zip(data, label)
    check_inflation(archive, label)
    return archive
