"""Server folder source: list files cheaply, read one on demand.

`scan()` never reads file contents: the ingestion compares (uri, size, mtime) with what it has and
only then calls `read()` for new or changed files (and hashes their content).

Rules:

- a uri is the POSIX path relative to the folder ("Urbanisme/PLU/règlement.pdf");
- hidden files and folders (name starting with ".") and Office lock files ("~$…") are skipped;
- symbolic links are followed only while they stay inside the folder (each real folder is
  walked once, so a link loop cannot trap the scan);
- include/exclude are glob patterns, case-insensitive, matched against the relative path and
  against the file name ("*.pdf" matches "a/b/c.pdf"; "archives/*" and "archives" exclude a
  folder); a leading "**/" also matches at the top level;
- files larger than `max_bytes` are left out of the scan (and refused by `read()`), with a warning;
- an unreadable sub-folder stops the scan with a SourceError rather than being skipped, so that
  its files are never taken for deleted ones: fix its rights or exclude it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from .base import FetchedItem, SourceError

logger = logging.getLogger(__name__)


@dataclass
class FolderConfig:
    path: str
    include: list[str] = field(default_factory=lambda: ["*"])
    exclude: list[str] = field(default_factory=list)
    recursive: bool = True
    max_bytes: int = 50 * 1024 * 1024


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$")


def _matches(relative: str, patterns: list[str]) -> bool:
    path = relative.lower()
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        pattern = pattern.strip().lower().replace("\\", "/").lstrip("/")
        if not pattern:
            continue
        candidates = {pattern, pattern.removeprefix("**/")}
        if any(fnmatchcase(path, p) or fnmatchcase(name, p) for p in candidates):
            return True
    return False


def _wanted(config: FolderConfig, relative: str) -> bool:
    return _matches(relative, config.include or ["*"]) and not _matches(relative, config.exclude)


def _excluded_folder(config: FolderConfig, relative: str) -> bool:
    return _matches(relative, config.exclude) or _matches(relative + "/", config.exclude)


def _root(config: FolderConfig) -> Path:
    if not config.path:
        raise SourceError("Indiquez le chemin du dossier à indexer.")
    path = Path(config.path)
    if not path.is_absolute():
        raise SourceError(f"Le chemin du dossier doit être absolu : « {config.path} ».")
    try:
        root = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise SourceError(f"Le dossier « {config.path} » n’existe pas.") from None
    except OSError as exc:
        raise SourceError(
            f"Le dossier « {config.path} » est inaccessible : {exc.strerror}."
        ) from None
    if not root.is_dir():
        raise SourceError(f"« {config.path} » n’est pas un dossier.")
    try:
        with os.scandir(root):
            pass
    except PermissionError:
        raise SourceError(
            f"Le dossier « {config.path} » est illisible : le compte du serveur n’a pas le droit "
            "de le lire."
        ) from None
    except OSError as exc:
        raise SourceError(f"Le dossier « {config.path} » est illisible : {exc.strerror}.") from None
    return root


def _inside(root: Path, path: Path) -> bool:
    return path == root or path.is_relative_to(root)


def scan(config: FolderConfig) -> Iterator[tuple[str, os.stat_result]]:
    """(uri, stat) of each file to index; never reads a file's content.

    Stable order: the files of a folder by name, then each sub-folder by name.

    The folder is checked at once (SourceError); listing happens while iterating.
    """
    root = _root(config)
    return _walk(config, root)


def _walk(config: FolderConfig, root: Path) -> Iterator[tuple[str, os.stat_result]]:
    visited = {root}
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError as exc:
            raise SourceError(
                f"Le sous-dossier « {prefix or '.'} » est illisible ({exc.strerror}) : l’analyse "
                "est interrompue pour ne pas tenir ses fichiers pour supprimés. Corrigez ses "
                "droits ou excluez-le."
            ) from None
        subfolders: list[tuple[Path, str]] = []
        for entry in entries:
            if _skipped_name(entry.name):
                continue
            relative = f"{prefix}{entry.name}"
            try:
                is_link = entry.is_symlink()
                info = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # broken link or vanished file
            if is_link:
                try:
                    target = Path(entry.path).resolve(strict=True)
                except (OSError, RuntimeError):
                    continue
                if not _inside(root, target):
                    logger.info("Folder source: %s points outside the folder, skipped", relative)
                    continue
            if stat.S_ISDIR(info.st_mode):
                if not config.recursive or _excluded_folder(config, relative):
                    continue
                real = Path(entry.path).resolve()
                if real in visited:
                    continue
                visited.add(real)
                subfolders.append((Path(entry.path), relative + "/"))
            elif stat.S_ISREG(info.st_mode):
                if not _wanted(config, relative):
                    continue
                if info.st_size > config.max_bytes:
                    logger.warning(
                        "Folder source: %s is %d bytes, above max_bytes=%d, skipped",
                        relative,
                        info.st_size,
                        config.max_bytes,
                    )
                    continue
                yield relative, info
        # Depth-first in name order: reversed so that pop() takes the first name first.
        pending.extend(reversed(subfolders))


def _checked_path(config: FolderConfig, root: Path, uri: str) -> Path:
    refused = SourceError(f"Chemin refusé : « {uri} » doit désigner un fichier du dossier.")
    if not uri or "\x00" in uri or "\\" in uri:
        raise refused
    relative = PurePosixPath(uri)
    if relative.is_absolute():
        raise refused
    if any(part in ("", ".", "..") or _skipped_name(part) for part in uri.split("/")):
        raise refused
    if not config.recursive and len(relative.parts) > 1:
        raise refused
    if not _wanted(config, uri) or any(
        _excluded_folder(config, "/".join(relative.parts[:i]))
        for i in range(1, len(relative.parts))
    ):
        raise refused
    path = root.joinpath(*relative.parts)
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise SourceError(f"Le fichier « {uri} » n’existe plus.") from None
    except (OSError, RuntimeError):
        raise refused from None
    if not _inside(root, real):
        raise refused
    return real


def read(config: FolderConfig, uri: str) -> FetchedItem:
    """The file `uri` (as given by scan); SourceError if it escapes the folder or cannot be read."""
    root = _root(config)
    path = _checked_path(config, root, uri)
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"« {uri} » n’est pas un fichier.")
            if info.st_size > config.max_bytes:
                raise SourceError(_too_large(uri, config.max_bytes))
            data = file.read(config.max_bytes + 1)
    except PermissionError:
        raise SourceError(f"Le fichier « {uri} » est illisible (accès refusé).") from None
    except FileNotFoundError:
        raise SourceError(f"Le fichier « {uri} » n’existe plus.") from None
    except IsADirectoryError:
        raise SourceError(f"« {uri} » n’est pas un fichier.") from None
    except OSError as exc:
        raise SourceError(f"Le fichier « {uri} » est illisible : {exc.strerror}.") from None
    if len(data) > config.max_bytes:
        raise SourceError(_too_large(uri, config.max_bytes))
    name = PurePosixPath(uri).name
    return FetchedItem(
        uri=uri,
        title=PurePosixPath(name).stem or name,
        filename=name,
        data=data,
        modified=datetime.fromtimestamp(info.st_mtime, UTC),
    )


def _too_large(uri: str, max_bytes: int) -> str:
    return f"Le fichier « {uri} » dépasse la taille maximale ({max_bytes / (1024 * 1024):g} Mo)."
