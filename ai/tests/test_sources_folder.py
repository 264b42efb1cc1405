"""Server folder source."""

from __future__ import annotations

import builtins
import os
from datetime import UTC, datetime

import pytest

from ai.sources import folder
from ai.sources.base import FetchedItem, SourceError
from ai.sources.folder import FolderConfig, read, scan


@pytest.fixture
def tree(tmp_path):
    """A shared folder of a fictitious town hall, with traps around it."""
    root = tmp_path / "partage"
    files = {
        "Note de service.docx": b"note",
        "État civil/Guide des démarches.pdf": b"%PDF-guide",
        "État civil/actes/2024/registre.xlsx": b"registre",
        "Urbanisme/PLU/Règlement.PDF": b"%PDF-plu",
        "Urbanisme/archives/ancien-plu.pdf": b"%PDF-ancien",
        "Urbanisme/.brouillons/secret.pdf": b"cache",
        ".env": b"SECRET=1",
        "~$Note de service.docx": b"verrou",
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    (outside / "confidentiel.pdf").write_bytes(b"hors du partage")
    (root / "lien-sortant.pdf").symlink_to(outside / "confidentiel.pdf")
    (root / "dossier-sortant").symlink_to(outside, target_is_directory=True)
    (root / "lien-interne.pdf").symlink_to(root / "État civil" / "Guide des démarches.pdf")
    (root / "Urbanisme" / "boucle").symlink_to(root, target_is_directory=True)
    (root / "lien-casse.pdf").symlink_to(tmp_path / "absent.pdf")
    return root


def uris(config):
    return [uri for uri, _ in scan(config)]


def test_scan_lists_files_with_relative_posix_uris(tree):
    assert sorted(uris(FolderConfig(str(tree)))) == sorted(
        [
            "Note de service.docx",
            "lien-interne.pdf",
            "État civil/Guide des démarches.pdf",
            "État civil/actes/2024/registre.xlsx",
            "Urbanisme/PLU/Règlement.PDF",
            "Urbanisme/archives/ancien-plu.pdf",
        ]
    )


def test_scan_gives_size_and_mtime_without_reading_contents(tree, monkeypatch):
    os.utime(tree / "Note de service.docx", (1_700_000_000, 1_700_000_000))

    def no_open(*args, **kwargs):
        raise AssertionError("scan must not open files")

    monkeypatch.setattr(builtins, "open", no_open)
    monkeypatch.setattr(os, "open", no_open)
    stats = dict(scan(FolderConfig(str(tree))))
    assert stats["Note de service.docx"].st_size == 4
    assert stats["Note de service.docx"].st_mtime == 1_700_000_000
    assert stats["Urbanisme/PLU/Règlement.PDF"].st_size == len(b"%PDF-plu")


def test_include_exclude_and_recursive(tree):
    assert sorted(uris(FolderConfig(str(tree), include=["*.pdf"]))) == [
        "Urbanisme/PLU/Règlement.PDF",  # case-insensitive
        "Urbanisme/archives/ancien-plu.pdf",
        "lien-interne.pdf",
        "État civil/Guide des démarches.pdf",
    ]
    assert sorted(uris(FolderConfig(str(tree), include=["*.pdf"], exclude=["archives"]))) == [
        "Urbanisme/PLU/Règlement.PDF",
        "lien-interne.pdf",
        "État civil/Guide des démarches.pdf",
    ]
    assert sorted(uris(FolderConfig(str(tree), exclude=["Urbanisme/*", "lien-*"]))) == [
        "Note de service.docx",
        "État civil/Guide des démarches.pdf",
        "État civil/actes/2024/registre.xlsx",
    ]
    assert uris(FolderConfig(str(tree), include=["**/*.xlsx"])) == [
        "État civil/actes/2024/registre.xlsx"
    ]
    assert sorted(uris(FolderConfig(str(tree), recursive=False))) == [
        "Note de service.docx",
        "lien-interne.pdf",
    ]


def test_max_bytes_leaves_large_files_out(tree):
    config = FolderConfig(str(tree), max_bytes=8)
    assert "Urbanisme/archives/ancien-plu.pdf" not in uris(config)  # 11 bytes
    assert "Urbanisme/PLU/Règlement.PDF" in uris(config)  # 8 bytes
    with pytest.raises(SourceError, match="taille maximale"):
        read(config, "Urbanisme/archives/ancien-plu.pdf")


def test_read_returns_the_file(tree):
    os.utime(tree / "Urbanisme" / "PLU" / "Règlement.PDF", (1_700_000_000, 1_700_000_000))
    item = read(FolderConfig(str(tree)), "Urbanisme/PLU/Règlement.PDF")
    assert item == FetchedItem(
        uri="Urbanisme/PLU/Règlement.PDF",
        title="Règlement",
        filename="Règlement.PDF",
        data=b"%PDF-plu",
        modified=datetime.fromtimestamp(1_700_000_000, UTC),
    )
    assert read(FolderConfig(str(tree)), "lien-interne.pdf").data == b"%PDF-guide"


@pytest.mark.parametrize(
    "uri",
    [
        "../ailleurs/confidentiel.pdf",
        "Urbanisme/../../ailleurs/confidentiel.pdf",
        "/etc/passwd",
        "lien-sortant.pdf",
        "dossier-sortant/confidentiel.pdf",
        ".env",
        "Urbanisme/.brouillons/secret.pdf",
        "~$Note de service.docx",
        "Urbanisme",
        "",
        "./Note de service.docx",
        "État civil//Guide des démarches.pdf",
        "Urbanisme\\PLU\\Règlement.PDF",
    ],
)
def test_read_refuses_uris_escaping_the_folder_or_hidden(tree, uri):
    with pytest.raises(SourceError):
        read(FolderConfig(str(tree)), uri)


def test_read_respects_include_and_exclude(tree):
    config = FolderConfig(str(tree), include=["*.pdf"], exclude=["archives"])
    with pytest.raises(SourceError, match="Chemin refusé"):
        read(config, "Note de service.docx")
    with pytest.raises(SourceError, match="Chemin refusé"):
        read(config, "Urbanisme/archives/ancien-plu.pdf")
    assert read(config, "lien-interne.pdf").filename == "lien-interne.pdf"


def test_read_a_deleted_file(tree):
    with pytest.raises(SourceError, match="n’existe plus"):
        read(FolderConfig(str(tree)), "Compte rendu supprimé.pdf")


@pytest.mark.parametrize("name", ["absent", "Note de service.docx"])
def test_missing_folder_or_not_a_folder(tree, name):
    with pytest.raises(SourceError, match=r"n’existe pas|n’est pas un dossier"):
        scan(FolderConfig(str(tree / name)))
    with pytest.raises(SourceError, match="absolu"):
        scan(FolderConfig("partage/relatif"))


def test_unreadable_folder_and_subfolder(tree, monkeypatch):
    real_scandir = os.scandir
    blocked = {str(tree)}

    def scandir(path):
        if str(path) in blocked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    # Works as root too, where chmod 000 would not stop the test from reading.
    monkeypatch.setattr(folder.os, "scandir", scandir)
    with pytest.raises(SourceError, match="illisible"):
        scan(FolderConfig(str(tree)))
    blocked = {str(tree / "Urbanisme" / "PLU")}
    with pytest.raises(SourceError, match="« Urbanisme/PLU/ » est illisible"):
        list(scan(FolderConfig(str(tree))))
    # Excluding it lets the scan go on.
    assert "Note de service.docx" in uris(FolderConfig(str(tree), exclude=["PLU"]))


def test_unreadable_file_is_a_source_error_on_read(tree, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(builtins, "open", refuse)
    with pytest.raises(SourceError, match="accès refusé"):
        read(FolderConfig(str(tree)), "Note de service.docx")
