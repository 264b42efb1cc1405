"""Ingestion end to end: files in, chunks in SQL, points in Qdrant, search out."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from ai import services
from ai.index_sync import reindex, sync_pending
from ai.models import Chunk, Document, IngestionRun, Source
from ai.retrieval import search
from ai.selectors import run_counts
from ai.store import get_store
from ai.tests.conftest import upload

pytestmark = pytest.mark.django_db

CANTINE = """# Restauration scolaire

## Tarifs

Le prix du repas à la cantine est fixé selon le quotient familial de la famille.
Les familles dont le quotient est inférieur à 500 euros paient un euro par repas.

## Inscriptions

L'inscription à la restauration scolaire se fait en ligne sur le portail famille avant
le 31 août de chaque année.
"""

VOIRIE = """# Voirie

Les travaux de réfection de la chaussée de l'avenue de la Gare dureront trois semaines.
La circulation sera alternée pendant toute la durée du chantier.
"""


def run_inline(source: Source, user) -> IngestionRun:
    run = services.start_run(source, user=user, inline=True)
    run.refresh_from_db()
    return run


def test_upload_index_and_search(org):
    services.add_uploads(
        user=org["admin_rh"],
        source=org["src_rh"],
        files=[upload("cantine.md", CANTINE), upload("voirie.txt", VOIRIE)],
    )
    run = run_inline(org["src_rh"], org["admin_rh"])
    assert run.status == IngestionRun.Status.DONE
    assert run_counts(run) == {
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "done": 2,
        "deleted": 0,
        "total": 2,
    }
    cantine = Document.objects.get(uri="cantine.md")
    assert cantine.status == Document.Status.INDEXED
    chunks = list(cantine.chunks.order_by("order"))
    assert [c.heading_path for c in chunks] == [
        "Restauration scolaire > Tarifs",
        "Restauration scolaire > Inscriptions",
    ]
    assert all(c.direction_id == org["rh"].pk and not c.synced for c in chunks)

    sync_pending()
    assert get_store().count() == Chunk.objects.count()
    results = search(org["agent_rh"], "combien coûte un repas à la cantine ?")
    assert results[0].chunk.heading_path == "Restauration scolaire > Tarifs"
    assert "<mark>repas</mark>" in results[0].snippet


def test_unchanged_reindex_does_no_work_and_changed_document_is_replaced(org):
    services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("cantine.md", CANTINE)]
    )
    run_inline(org["src_rh"], org["admin_rh"])
    sync_pending()
    first_ids = set(Chunk.objects.values_list("pk", flat=True))

    second = run_inline(org["src_rh"], org["admin_rh"])
    assert run_counts(second)["unchanged"] == 1
    assert "embed" not in second.timings  # nothing was converted or embedded
    assert set(Chunk.objects.values_list("pk", flat=True)) == first_ids

    changed = CANTINE.replace("un euro par repas", "deux euros par repas")
    services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("cantine.md", changed)]
    )
    third = run_inline(org["src_rh"], org["admin_rh"])
    assert run_counts(third)["updated"] == 1
    new_ids = set(Chunk.objects.values_list("pk", flat=True))
    # The « Inscriptions » passage did not change: same id, not re-embedded.
    assert len(new_ids & first_ids) == 1
    assert len(new_ids) == 2
    sync_pending()
    assert get_store().count() == 2
    texts = [r.chunk.text for r in search(org["agent_rh"], "prix du repas quotient familial")]
    assert any("deux euros" in t for t in texts)
    assert not any("un euro par repas" in t for t in texts)


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret-de-test")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_bad_files_fail_with_french_reason_and_the_batch_goes_on(org, settings):
    settings.MAX_UPLOAD_MB = 1
    csv_cp1252 = "Libellé;Montant\nÉcole élémentaire;1200\nCrèche;800\n".encode("cp1252")
    files = [
        upload("vide.txt", b""),
        upload("chiffre.pdf", _encrypted_pdf()),
        upload("tronque.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog"),
        upload("binaire.txt", bytes(range(256)) * 40),
        upload("enorme.txt", b"a" * (1024 * 1024 + 10)),
        upload("budget.csv", csv_cp1252),
        upload("cantine.md", CANTINE),
    ]
    services.add_uploads(user=org["admin_rh"], source=org["src_rh"], files=files)
    run = run_inline(org["src_rh"], org["admin_rh"])
    counts = run_counts(run)
    assert counts["failed"] == 5
    assert counts["new"] == 2
    errors = dict(Document.objects.filter(status="failed").values_list("uri", "error"))
    assert "vide" in errors["vide.txt"].lower()
    assert "mot de passe" in errors["chiffre.pdf"]
    assert "Mo" in errors["enorme.txt"]
    assert set(errors) == {"vide.txt", "chiffre.pdf", "tronque.pdf", "binaire.txt", "enorme.txt"}
    budget = Document.objects.get(uri="budget.csv")
    assert "École élémentaire" in budget.chunks.first().text


def test_reindex_rebuilds_qdrant_from_sql_without_embedding(org):
    services.add_uploads(
        user=org["admin_rh"], source=org["src_rh"], files=[upload("cantine.md", CANTINE)]
    )
    run_inline(org["src_rh"], org["admin_rh"])
    sync_pending()
    vectors = dict(Chunk.objects.values_list("pk", "dense"))
    get_store().recreate()  # the index is lost
    assert get_store().count() == 0
    result = reindex()
    assert result["upserted"] == len(vectors)
    assert dict(Chunk.objects.values_list("pk", "dense")) == vectors
    assert search(org["agent_rh"], "inscription portail famille")


def test_folder_source_detects_new_changed_and_deleted_files(org, tmp_path):
    folder = tmp_path / "partage"
    folder.mkdir()
    (folder / "cantine.md").write_text(CANTINE, encoding="utf-8")
    (folder / "voirie.txt").write_text(VOIRIE, encoding="utf-8")
    source = services.create_source(
        user=org["admin_rh"],
        collection=org["col_rh"],
        name="Partage RH",
        kind=Source.Kind.FOLDER,
        config={"path": str(folder)},
    )
    assert run_counts(run_inline(source, org["admin_rh"]))["new"] == 2
    assert run_counts(run_inline(source, org["admin_rh"]))["unchanged"] == 2

    (folder / "voirie.txt").unlink()
    (folder / "cantine.md").write_text(CANTINE + "\nNouveau : repas bio le vendredi.\n")
    run = run_inline(source, org["admin_rh"])
    counts = run_counts(run)
    assert (counts["updated"], counts["deleted"]) == (1, 1)
    sync_pending()
    hits = search(org["agent_rh"], "chaussée avenue de la Gare circulation alternée")
    assert all(hit.document.uri != "voirie.txt" for hit in hits)
    assert not Document.objects.filter(uri="voirie.txt").exists()
    assert get_store().count() == Chunk.objects.count()
