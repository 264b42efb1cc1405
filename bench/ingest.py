"""Ingestion benchmark on real documents, through the product's own code.

    python bench/ingest.py [--keep] [--profile run.prof] [--ocr]

Copies a subset of the shared corpus (Montpellier deliberations of April and 22 May 2014, the
minutes and summaries in montpellier_pv_cr, the office files of h_office_docs_misc) into a
temporary folder, indexes it as a FOLDER source into a FRESH database, media folder and Qdrant
folder (nothing of the developer's own data is touched), then:

- times the run (`services.start_run(source, inline=True)`: collect, convert, chunk, embed,
  store) and the push to Qdrant (`index_sync.sync_pending()`);
- embeds the very same chunk texts, with the same contexts (title > headings), with the embedders
  alone (dense USE + French sparse vector), in the same process, to separate the model's cost
  from the pipeline's (best of two passes);
- runs the source again over the unchanged folder: size + mtime say nothing changed, so the
  second run should read no file at all.

Prints one `name=value` line per figure. Targets: overhead <= 1.3 (pipeline time over
embed-only time), unchanged_reindex_ratio <= 0.05.

The three image-only 2011 summaries are left out unless `--ocr` is given: Tesseract takes 5-7 s
a page and would measure OCR rather than the pipeline (the one scanned page among the
deliberations stays in, so the OCR path is still exercised). The embedder model is loaded before
the first run, so neither measure pays its start-up.

The embedder (two BLAS threads) is the first to slow down when another process takes a core:
`load_spread` and `calibration_s` (a fixed set embedded before, between and after the measures)
say whether a run is to be trusted; compare runs with a similar `calibration_s`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUBSETS = [
    "a_council_acts/montpellier_deliberations_2014-04",
    "a_council_acts/montpellier_deliberations_2014-05-22",
    "a_council_acts/montpellier_pv_cr",
    "h_office_docs_misc",
]
# Image-only PDFs (SOURCES.md): OCR only, 37 pages at 5-7 s each.
SCANNED = {
    "montpellier_CR_CM_20_06_2011.pdf",
    "montpellier_CR_CM_25_07_2011.pdf",
    "montpellier_CR_CM_28_03_2011.pdf",
}


def _configure(tmp: Path) -> None:
    """A fresh store for this run only; must happen before django.setup()."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DATA_DIR"] = str(tmp / "data")
    os.environ["QDRANT_PATH"] = str(tmp / "qdrant")
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    os.environ["QDRANT_URL"] = ""  # local mode in the temp folder, whatever the shell says
    os.environ["AI_INDEX_SYNC"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))


def _copy_corpus(corpus: Path, folder: Path, with_ocr: bool) -> int:
    """Copy (not link: the folder source skips links leading outside it), keeping mtimes."""
    count = 0
    for subset in SUBSETS:
        base = corpus / subset
        if not base.is_dir():
            raise SystemExit(f"corpus subset missing: {base}")
        for path in sorted(base.rglob("*")):
            if not path.is_file() or (path.name in SCANNED and not with_ocr):
                continue
            target = folder / subset / path.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            target.chmod(0o644)
            count += 1
    return count


def _fixtures(folder: Path):
    from ai import services
    from ai.models import Collection, Source
    from core.models import Direction, User, Visibility

    direction = Direction.objects.create(code="DAJ", name="Affaires juridiques")
    user = User.objects.create_superuser("bench", "bench@ville.example", None)
    collection = Collection.objects.create(
        name="Actes du conseil",
        slug="actes-du-conseil",
        direction=direction,
        visibility=Visibility.DIRECTION,
    )
    return services.create_source(
        user=user,
        collection=collection,
        name="Partage des actes",
        kind=Source.Kind.FOLDER,
        config={"path": str(folder)},
    )


def _embed_only(source) -> tuple[int, float]:
    """Embed the run's chunks again with the embedders alone; (chunks, seconds)."""
    from ai.embedding import embed_dense
    from ai.models import Chunk
    from ai.text import document_sparse

    rows = list(
        Chunk.objects.filter(document__source=source)
        .order_by("document_id", "order")
        .values_list("text", "heading_path", "document__title")
    )
    texts = [text for text, _, _ in rows]
    contexts = [" > ".join(p for p in (title, path) if p) for _, path, title in rows]
    started = time.perf_counter()
    # What UseDocumentEmbedder and FrenchSparseDocumentEmbedder compute, without Haystack.
    embed_dense([f"{c}\n{t}" if c else t for t, c in zip(texts, contexts, strict=True)])
    for text, context in zip(texts, contexts, strict=True):
        document_sparse(text, context)
    return len(rows), time.perf_counter() - started


_CALIBRATION = [
    f"Délibération n° {n} : le conseil municipal approuve la convention de partenariat avec "
    f"l'association de quartier pour l'année {2000 + n}, fixe la subvention à {n * 150} euros "
    "et autorise monsieur le maire à signer tout document s'y rapportant. " * 3
    for n in range(48)
]


def _calibrate() -> float:
    """Seconds to embed a fixed set: taken at several moments, their spread says whether other
    processes slowed the machine down during the measure (the embedder suffers most)."""
    from ai.embedding import embed_dense

    started = time.perf_counter()
    embed_dense(_CALIBRATION)
    return time.perf_counter() - started


def django_ready() -> bool:
    from django.apps import apps

    return apps.ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ocr", action="store_true", help="include the image-only PDFs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the first run into FILE")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    _configure(tmp)
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from ai import index_sync, services
        from ai.embedding import embed_dense
        from ai.models import Chunk, Document
        from ai.selectors import run_counts

        corpus = Path(settings.CORPUS_DIR)
        folder = tmp / "partage"
        files = _copy_corpus(corpus, folder, args.ocr)
        call_command("migrate", verbosity=0)
        source = _fixtures(folder)
        embed_dense(["Échauffement du modèle avant la mesure."])
        calibration = [_calibrate()]

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        run = services.start_run(source, inline=True)
        run_s = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)

        calibration.append(_calibrate())
        started = time.perf_counter()
        index_sync.sync_pending()
        sync_s = time.perf_counter() - started

        run.refresh_from_db()
        counts = run_counts(run)
        docs = Document.objects.filter(source=source)
        indexed = docs.filter(status=Document.Status.INDEXED)
        pages = sum(indexed.values_list("page_count", flat=True))
        chunks = Chunk.objects.filter(document__source=source).count()
        # Best of two: on a shared machine other processes only ever add time.
        embed_chunks, embed_s = min(_embed_only(source), _embed_only(source))
        assert embed_chunks == chunks
        calibration.append(_calibrate())

        started = time.perf_counter()
        second = services.start_run(source, inline=True)
        second_s = time.perf_counter() - started
        second.refresh_from_db()
        unchanged = run_counts(second)["unchanged"]

        figures = {
            "files": files,
            "documents": counts["total"],
            "pages": pages,
            "chunks": chunks,
            "failed": counts["failed"],
            "run_status": run.status,
            "run_s": round(run_s, 2),
            "sync_s": round(sync_s, 2),
            "embed_only_s": round(embed_s, 2),
            "pages_per_s": round(pages / run_s, 2),
            "chunks_per_s": round(chunks / run_s, 2),
            "embed_only_chunks_per_s": round(chunks / embed_s, 2),
            "overhead": round(run_s / embed_s, 3),
            "overhead_with_sync": round((run_s + sync_s) / embed_s, 3),
            **{f"stage_{k}_s": round(v, 2) for k, v in sorted(run.timings.items())},
            # Embedding inside the pipeline over the embedders alone (Haystack, conversions).
            "embed_stage_over_embed_only": round(run.timings.get("embed", 0.0) / embed_s, 3),
            "reindex_s": round(second_s, 3),
            "reindex_unchanged": unchanged,
            "unchanged_reindex_ratio": round(second_s / run_s, 4),
            # Slowest over fastest calibration: above ~1.2 the figures above are not to be
            # trusted (another process took the CPU), run again.
            "load_spread": round(max(calibration) / min(calibration), 2),
            # Compare between runs: about 0.3 s on an idle 2-core machine.
            "calibration_s": round(min(calibration), 3),
        }
        for name, value in figures.items():
            print(f"{name}={value}")
        for uri, error in docs.filter(status=Document.Status.FAILED).values_list("uri", "error"):
            print(f"# failed {uri}: {error[:160]}", file=sys.stderr)
    finally:
        if "django" in sys.modules and django_ready():
            from ai.store import reset_store

            reset_store()  # close Qdrant's local client before the interpreter shuts down
        if args.keep:
            print(f"# kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
