"""Writes of the AI layer: collections, sources, uploads, runs and document ingestion.

Ingestion is idempotent per (document, run): a task delivered twice after a worker crash finds
the outcome already recorded, and chunk ids derived from content make a second insert a no-op.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ai.chunking import chunk_blocks, chunk_id
from ai.converters import convert
from ai.converters.base import ConversionError
from ai.converters.common import file_stem
from ai.models import Chunk, Collection, Document, IndexOp, IngestionRun, Source
from ai.pipelines.indexing import embed_passages
from ai.sources.base import FetchFailure, SourceError
from core import access, audit
from core.models import Direction

logger = logging.getLogger(__name__)

UNEXPECTED_ERROR = (
    "Erreur inattendue pendant l'indexation ; le service informatique peut consulter le journal."
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def max_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


# --- Collections -----------------------------------------------------------------------------


def _check_manage(user, direction: Direction, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied("Votre rôle ne permet pas d'administrer les bases de connaissances.")
    if not user.is_superuser and direction.pk not in access.writable_direction_ids(user):
        raise PermissionDenied("Cette direction n'est pas la vôtre.")


@transaction.atomic
def create_collection(
    *, user, name: str, slug: str, direction: Direction, visibility: str, description: str = ""
) -> Collection:
    _check_manage(user, direction, "ai.add_collection")
    collection = Collection(
        name=name.strip(),
        slug=slug,
        direction=direction,
        visibility=visibility,
        description=description,
    )
    collection.full_clean()
    collection.save()
    audit.record("ai.collection.create", actor=user, target=collection, direction_id=direction.pk)
    return collection


@transaction.atomic
def update_collection_access(
    *, user, collection: Collection, direction: Direction, visibility: str
) -> Collection:
    """Change who may read a collection; its chunks follow without re-embedding."""
    _check_manage(user, collection.direction, "ai.change_collection")
    _check_manage(user, direction, "ai.change_collection")
    before = {"direction_id": collection.direction_id, "visibility": collection.visibility}
    collection.direction = direction
    collection.visibility = visibility
    collection.full_clean()
    collection.save()
    Chunk.objects.filter(collection=collection).update(direction=direction, visibility=visibility)
    IndexOp.objects.create(
        kind=IndexOp.Kind.SET_PAYLOAD,
        collection_id_ref=collection.pk,
        payload={"direction_id": direction.pk, "visibility": visibility},
    )
    audit.record(
        "ai.collection.access",
        actor=user,
        target=collection,
        direction_id=direction.pk,
        details={
            "before": before,
            "after": {"direction_id": direction.pk, "visibility": visibility},
        },
    )
    return collection


def share_collection(*, user, collection: Collection, with_whom) -> None:
    _check_manage(user, collection.direction, "ai.change_collection")
    access.share(collection, with_whom)
    audit.record(
        "ai.collection.share",
        actor=user,
        target=collection,
        direction_id=collection.direction_id,
        details={"with": str(with_whom)},
    )


def unshare_collection(*, user, collection: Collection, with_whom) -> None:
    _check_manage(user, collection.direction, "ai.change_collection")
    access.unshare(collection, with_whom)
    audit.record(
        "ai.collection.unshare",
        actor=user,
        target=collection,
        direction_id=collection.direction_id,
        details={"with": str(with_whom)},
    )


# --- Sources ---------------------------------------------------------------------------------


def _check_keys(config: dict[str, Any], config_class: type, *, required: bool = True) -> None:
    """Refuse unknown or missing settings here (an API call with a typo), in French, rather
    than let the dataclass raise TypeError: a 500 at creation, a crashed run later."""
    fields = dataclasses.fields(config_class)
    unknown = sorted(set(config) - {f.name for f in fields})
    if unknown:
        raise SourceError(
            f"Paramètre inconnu pour ce type de source : {', '.join(unknown)} (paramètres "
            f"acceptés : {', '.join(sorted(f.name for f in fields))})."
        )
    for f in fields if required else ():
        mandatory = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if mandatory and f.name not in config:
            raise SourceError(f"Le paramètre « {f.name} » est obligatoire pour ce type de source.")


def validate_source_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """Check a source's settings before saving them; French errors."""
    if not isinstance(config, dict):
        raise SourceError("Les paramètres de la source doivent être un objet JSON.")
    if kind == Source.Kind.FOLDER:
        from ai.sources.folder import FolderConfig, scan

        _check_keys(config, FolderConfig)
        scan(FolderConfig(**{**config, "max_bytes": max_bytes()}))  # checks, reads nothing
    elif kind == Source.Kind.WEBSITE:
        from ai.sources.web import CrawlConfig, crawl

        _check_keys(config, CrawlConfig)
        crawl(CrawlConfig(**config))  # checks the settings; nothing is fetched until iterated
    elif kind == Source.Kind.APP:
        from ai.sources import app

        _check_keys(config, app.AppConfig)
        app.provider(config)
    elif kind == Source.Kind.SQL:
        from ai.sources.sql import SqlConfig, check_query

        _check_keys(config, SqlConfig, required=False)  # missing ones: the messages below
        check_query(config.get("query", ""))
        for key in ("url", "title_template", "body_template"):
            if not config.get(key):
                raise SourceError(f"Le paramètre « {key} » est obligatoire pour une source SQL.")
    return config


@transaction.atomic
def create_source(
    *,
    user,
    collection: Collection,
    name: str,
    kind: str,
    config: dict[str, Any] | None = None,
    schedule_minutes: int = 0,
) -> Source:
    _check_manage(user, collection.direction, "ai.change_collection")
    try:
        validate_source_config(kind, config or {})
    except SourceError as exc:
        raise ValidationError(str(exc)) from exc
    source = Source.objects.create(
        collection=collection,
        name=name,
        kind=kind,
        config=config or {},
        schedule_minutes=schedule_minutes,
    )
    sync_schedule(source)
    audit.record(
        "ai.source.create", actor=user, target=source, direction_id=collection.direction_id
    )
    return source


def sync_schedule(source: Source) -> None:
    """Mirror the source's frequency into a django-q2 schedule."""
    from django_q.models import Schedule

    name = f"ai-source-{source.pk}"
    if not source.enabled or not source.schedule_minutes:
        Schedule.objects.filter(name=name).delete()
        return
    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": "ai.tasks.scheduled_run",
            "args": repr(source.pk),
            "schedule_type": Schedule.MINUTES,
            "minutes": source.schedule_minutes,
            "repeats": -1,
            "next_run": timezone.now() + timedelta(minutes=source.schedule_minutes),
        },
    )


@transaction.atomic
def add_uploads(*, user, source: Source, files: Iterable) -> list[Document]:
    """Store uploaded files as documents of an upload source (pending until a run)."""
    _check_manage(user, source.collection.direction, "ai.change_collection")
    if source.kind != Source.Kind.UPLOAD:
        raise ValidationError("Cette source n'accepte pas de dépôt de fichiers.")
    documents = []
    limit = max_bytes()
    for upload in files:
        name = (getattr(upload, "name", "") or "fichier").rsplit("/", 1)[-1][:255]
        doc, _ = Document.objects.get_or_create(
            source=source,
            uri=name,
            defaults={"collection": source.collection, "title": name, "filename": name},
        )
        size = getattr(upload, "size", 0) or 0
        if size > limit:
            # Not stored, but recorded: the agent sees which file was refused and why.
            doc.status = Document.Status.FAILED
            doc.error = (
                f"Le fichier pèse {size / 1_048_576:.1f} Mo, au-delà de la limite de "
                f"{settings.MAX_UPLOAD_MB} Mo."
            )
            doc.size = size
            doc.content_hash = ""
            doc.save()
            logger.warning("upload refused (too large): %s %s bytes", name, size)
            documents.append(doc)
            continue
        data = upload.read()
        digest = _sha256(data)
        if digest != doc.content_hash or not doc.file:
            if doc.file:
                doc.file.delete(save=False)
            doc.file.save(name, ContentFile(data), save=False)
            doc.content_hash = digest
            doc.size = len(data)
            doc.status = Document.Status.PENDING
            doc.error = ""
            doc.attempts = 0
            doc.save()
        documents.append(doc)
    audit.record(
        "ai.upload",
        actor=user,
        target=source,
        direction_id=source.collection.direction_id,
        details={"files": [d.filename for d in documents]},
    )
    return documents


def delete_document(document: Document) -> None:
    with transaction.atomic():
        ids = [str(pk) for pk in document.chunks.values_list("pk", flat=True)]
        if ids:
            IndexOp.objects.create(kind=IndexOp.Kind.DELETE_POINTS, point_ids=ids)
        file = document.file
        document.delete()
    if file:
        file.delete(save=False)


# --- Runs ------------------------------------------------------------------------------------


def start_run(source: Source, *, user=None, inline: bool = False) -> IngestionRun:
    """Create a run and process it in the background (or here, with `inline`)."""
    run = IngestionRun.objects.create(source=source, triggered_by=user)
    if user is not None:
        audit.record(
            "ai.run.start", actor=user, target=source, direction_id=source.collection.direction_id
        )
    if inline:
        execute_run(run.pk, inline=True)
    else:
        from django_q.tasks import async_task

        async_task("ai.tasks.execute_run", run.pk, task_name=f"ai-run-{run.pk}")
    return run


def refresh_app_sources(*providers: str, user=None) -> list[IngestionRun]:
    """Re-index, in the background, the app-fed sources of these providers (an article was
    just published: the assistants should know it before the next scheduled run). A source
    with a run already under way is left to it."""
    runs = []
    sources = Source.objects.filter(
        kind=Source.Kind.APP, enabled=True, config__provider__in=providers
    ).select_related("collection")
    for source in sources:
        # A run left « running » by a crashed worker for over an hour does not block it.
        busy = source.runs.filter(
            status=IngestionRun.Status.RUNNING,
            started_at__gte=timezone.now() - timedelta(hours=1),
        )
        if not busy.exists():
            runs.append(start_run(source, user=user))
    return runs


def _add_timing(run_id: int, timings: dict[str, float]) -> None:
    with transaction.atomic():
        run = IngestionRun.objects.select_for_update().get(pk=run_id)
        for key, value in timings.items():
            run.timings[key] = round(run.timings.get(key, 0.0) + value, 4)
        run.save(update_fields=["timings"])


def _store_fetched(source: Source, item) -> Document:
    """Create or update the document of a fetched item (web page, SQL row)."""
    doc, created = Document.objects.get_or_create(
        source=source,
        uri=item.uri[:1000],
        defaults={
            "collection": source.collection,
            "title": item.title[:500],
            "filename": item.filename[:255],
        },
    )
    digest = _sha256(item.data)
    if created or digest != doc.content_hash:
        if doc.file:
            doc.file.delete(save=False)
        doc.file.save(item.filename[:200] or "document", ContentFile(item.data), save=False)
        doc.content_hash = digest
        doc.size = len(item.data)
        doc.title = item.title[:500] or doc.title
        doc.source_modified_at = item.modified
        doc.status = Document.Status.PENDING
        doc.error = ""
        doc.attempts = 0
        doc.save()
    return doc


def _record_fetch_failure(source: Source, failure: FetchFailure) -> Document:
    doc, _ = Document.objects.get_or_create(
        source=source,
        uri=failure.uri[:1000],
        defaults={"collection": source.collection, "title": failure.uri[:500]},
    )
    doc.status = Document.Status.FAILED
    doc.error = failure.message
    doc.content_hash = ""
    doc.save()
    return doc


def _delete_missing(source: Source, seen: set[int]) -> int:
    missing = list(source.documents.exclude(pk__in=seen))
    for doc in missing:
        delete_document(doc)
    return len(missing)


def _collect_folder(source: Source) -> tuple[list[Document], int]:
    from ai.sources.folder import FolderConfig, scan

    config = FolderConfig(**{**source.config, "max_bytes": max_bytes()})
    docs, seen = [], set()
    for uri, stat in scan(config):
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        doc, created = Document.objects.get_or_create(
            source=source,
            uri=uri,
            defaults={
                "collection": source.collection,
                "title": uri.rsplit("/", 1)[-1],
                "filename": uri.rsplit("/", 1)[-1],
            },
        )
        if created or doc.size != stat.st_size or doc.source_modified_at != modified:
            # Changed on disk (or new): the content hash, computed at ingestion, decides.
            doc.size = stat.st_size
            doc.source_modified_at = modified
            doc.content_hash = ""
            doc.status = Document.Status.PENDING
            doc.save()
        docs.append(doc)
        seen.add(doc.pk)
    return docs, _delete_missing(source, seen)


def _collect_fetched(source: Source, items) -> tuple[list[Document], int]:
    docs, seen = [], set()
    for item in items:
        if isinstance(item, FetchFailure):
            doc = _record_fetch_failure(source, item)
        else:
            doc = _store_fetched(source, item)
        docs.append(doc)
        seen.add(doc.pk)
    return docs, _delete_missing(source, seen)


def _collect(source: Source) -> tuple[list[Document], int]:
    """Bring the source's documents up to date; return them and how many were deleted."""
    if source.kind == Source.Kind.UPLOAD:
        return list(source.documents.all()), 0
    if source.kind == Source.Kind.FOLDER:
        return _collect_folder(source)
    if source.kind == Source.Kind.WEBSITE:
        from ai.sources.web import CrawlConfig, crawl

        return _collect_fetched(source, crawl(CrawlConfig(**source.config)))
    if source.kind == Source.Kind.SQL:
        from ai.sources.sql import SqlConfig, fetch_rows

        return _collect_fetched(source, fetch_rows(SqlConfig(**source.config)))
    if source.kind == Source.Kind.APP:
        from ai.sources import app

        return _collect_fetched(source, app.fetch(source.config))
    raise SourceError(f"Type de source inconnu : {source.kind}.")


def _needs_work(doc: Document) -> bool:
    return not (
        doc.status == Document.Status.INDEXED
        and doc.content_hash
        and doc.content_hash == doc.indexed_hash
    )


def execute_run(run_id: int, *, inline: bool = False) -> IngestionRun:
    """Collect the source's documents and ingest each (one background task per document)."""
    run = IngestionRun.objects.select_related("source__collection").get(pk=run_id)
    source = run.source
    started = time.perf_counter()
    try:
        docs, deleted = _collect(source)
    except SourceError as exc:
        logger.warning("source %s unusable: %s", source.pk, exc)
        run.status = IngestionRun.Status.FAILED
        run.error = str(exc)
        run.finished_at = timezone.now()
        run.save()
        return run
    run.total = len(docs)
    # Added, not set: a redelivered run task finds the files it deleted already gone.
    run.deleted += deleted
    run.save(update_fields=["total", "deleted"])
    _add_timing(run.pk, {"fetch": time.perf_counter() - started})
    for doc in docs:
        if doc.last_run_id == run.pk and doc.last_outcome:
            # This run task was delivered again (its worker was killed while it enqueued):
            # the document is already done for this run; marking it « unchanged » would
            # overwrite its real outcome.
            continue
        if doc.status == Document.Status.FAILED and not doc.content_hash:
            # Failed before any content could be kept (fetch error, over the size limit).
            Document.objects.filter(pk=doc.pk).update(
                last_run=run, last_outcome=Document.Outcome.FAILED
            )
        elif _needs_work(doc) or (source.kind == Source.Kind.FOLDER and not doc.content_hash):
            if inline:
                ingest_document(doc.pk, run.pk)
            else:
                from django_q.tasks import async_task

                async_task("ai.tasks.ingest_document", doc.pk, run.pk, task_name=f"ai-doc-{doc.pk}")
        else:
            Document.objects.filter(pk=doc.pk).update(
                last_run=run, last_outcome=Document.Outcome.UNCHANGED
            )
    return finalize_if_done(run.pk)


def finalize_if_done(run_id: int) -> IngestionRun:
    with transaction.atomic():
        run = IngestionRun.objects.select_for_update().get(pk=run_id)
        if run.status != IngestionRun.Status.RUNNING:
            return run
        done = Document.objects.filter(last_run=run).exclude(last_outcome="").count()
        if done >= run.total:
            run.status = IngestionRun.Status.DONE
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])
            Source.objects.filter(pk=run.source_id).update(last_run_at=run.finished_at)
        return run


def _document_bytes(doc: Document) -> bytes:
    if doc.file:
        with doc.file.open("rb") as fh:
            return fh.read()
    if doc.source.kind == Source.Kind.FOLDER:
        from ai.sources.folder import FolderConfig, read

        config = FolderConfig(**{**doc.source.config, "max_bytes": max_bytes()})
        return read(config, doc.uri).data
    raise ConversionError("Le contenu de ce document n'est plus disponible.")


def _finish(doc_id: int, run_id: int | None, **fields) -> None:
    fields["last_run_id"] = run_id
    Document.objects.filter(pk=doc_id).update(**fields)
    if run_id is not None:
        IngestionRun.objects.filter(pk=run_id).update(progress_at=timezone.now())
        finalize_if_done(run_id)


MAX_RESUMES = 3


def ensure_schedules() -> None:
    """The watchdog of stalled runs, every five minutes (idempotent; after migrations)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="ai.resume_stalled_runs",
        defaults={
            "func": "ai.tasks.resume_stalled_runs",
            "schedule_type": Schedule.MINUTES,
            "minutes": 5,
        },
    )


def resume_stalled_runs(now=None) -> list[int]:
    """Hand again to the workers the runs that stopped moving (every few minutes).

    With the database broker, django-q2 redelivers the task of a killed worker after
    `Q_CLUSTER["retry"]` seconds; with Redis it does not, and the run would stay « en cours »
    forever with its documents never indexed. A run whose last progress is older than that
    delay is started again: `execute_run` skips what this run already did and queues the
    rest, and a document processed twice gives the same chunks (stable ids), so a resume
    that overlaps a slow but living task duplicates nothing. After MAX_RESUMES the run is
    failed with a French reason, for the administrator to look at."""
    from django.conf import settings
    from django_q.tasks import async_task

    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.Q_CLUSTER.get("retry", 2100))
    resumed = []
    for run in IngestionRun.objects.filter(
        status=IngestionRun.Status.RUNNING, progress_at__lt=now - stale_after
    ):
        if run.resumes >= MAX_RESUMES:
            IngestionRun.objects.filter(pk=run.pk).update(
                status=IngestionRun.Status.FAILED,
                finished_at=now,
                error="L'indexation s'est interrompue plusieurs fois sans avancer (worker "
                "arrêté ?). Relancez-la ; si cela se reproduit, consultez le journal du serveur.",
            )
            logger.error("ingestion run %s failed after %s resumes", run.pk, run.resumes)
            continue
        IngestionRun.objects.filter(pk=run.pk).update(progress_at=now, resumes=run.resumes + 1)
        logger.warning("ingestion run %s stalled since %s: resumed", run.pk, run.progress_at)
        async_task("ai.tasks.execute_run", run.pk, task_name=f"ai-run-{run.pk}-resume")
        resumed.append(run.pk)
    return resumed


def ingest_document(doc_id: int, run_id: int | None = None) -> str:
    """Convert, chunk, embed and store one document. Returns its outcome.

    Only passages whose content changed are embedded; passages gone from the document are
    removed from SQL and queued for deletion from the vector store.
    """
    doc = Document.objects.select_related("source", "collection").filter(pk=doc_id).first()
    if doc is None:
        return "missing"
    if run_id is not None and doc.last_run_id == run_id and doc.last_outcome:
        # Delivered twice (worker killed after the commit below, before the task was
        # acknowledged): already done, but the run may not have been closed yet.
        finalize_if_done(run_id)
        return doc.last_outcome
    Document.objects.filter(pk=doc.pk).update(status=Document.Status.PROCESSING)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        data = _document_bytes(doc)
        digest = _sha256(data)
        if digest == doc.indexed_hash and doc.status != Document.Status.FAILED:
            _finish(
                doc.pk,
                run_id,
                status=Document.Status.INDEXED,
                content_hash=digest,
                last_outcome=Document.Outcome.UNCHANGED,
            )
            return Document.Outcome.UNCHANGED
        converted = convert(data, doc.filename or doc.uri, max_bytes=max_bytes())
    except (ConversionError, SourceError) as exc:
        logger.warning("document %s (%s) failed: %s", doc.pk, doc.uri, exc)
        _finish(
            doc.pk,
            run_id,
            status=Document.Status.FAILED,
            error=str(exc),
            last_outcome=Document.Outcome.FAILED,
        )
        return Document.Outcome.FAILED
    timings["convert"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    drafts = chunk_blocks(converted.blocks)
    title = _document_title(doc, converted.title)
    occurrences: dict[tuple, int] = {}
    ids = []
    for draft in drafts:
        key = (draft.page, draft.heading_path, draft.text)
        n = occurrences.get(key, 0)
        occurrences[key] = n + 1
        ids.append(chunk_id(doc.pk, draft, n))
    existing = set(doc.chunks.values_list("pk", flat=True))
    fresh = [(cid, d) for cid, d in zip(ids, drafts, strict=True) if cid not in existing]
    timings["chunk"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    embedded = embed_passages(
        [d.text for _, d in fresh],
        [" > ".join(p for p in (title, d.heading_path) if p) for _, d in fresh],
    )
    timings["embed"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    collection = doc.collection
    order = {cid: i for i, cid in enumerate(ids)}
    new_rows = [
        Chunk(
            id=cid,
            document=doc,
            order=order[cid],
            text=draft.text,
            page=draft.page,
            heading_path=draft.heading_path,
            collection=collection,
            direction_id=collection.direction_id,
            visibility=collection.visibility,
            dense=bytes(memoryview(_as_f32(hd.embedding))),
            sparse={
                "indices": list(hd.sparse_embedding.indices),
                "values": list(hd.sparse_embedding.values),
            },
        )
        for (cid, draft), hd in zip(fresh, embedded, strict=True)
    ]
    outcome = Document.Outcome.UPDATED if doc.indexed_hash else Document.Outcome.NEW
    with transaction.atomic():
        gone = [str(pk) for pk in existing - set(ids)]
        if gone:
            Chunk.objects.filter(pk__in=gone).delete()
            IndexOp.objects.create(kind=IndexOp.Kind.DELETE_POINTS, point_ids=gone)
        Chunk.objects.bulk_create(new_rows, ignore_conflicts=True)
        kept = [cid for cid in ids if cid in existing]
        for cid in kept:
            Chunk.objects.filter(pk=cid).exclude(order=order[cid]).update(order=order[cid])
        Document.objects.filter(pk=doc.pk).update(
            title=(title or "")[:500],
            format=converted.format[:16],
            page_count=converted.page_count,
            warnings=converted.warnings,
            content_hash=digest,
            indexed_hash=digest,
            status=Document.Status.INDEXED,
            error="",
            attempts=0,
            indexed_at=timezone.now(),
            last_run_id=run_id,
            last_outcome=outcome,
        )
    timings["store"] = time.perf_counter() - t3
    if run_id is not None:
        _add_timing(run_id, timings)
        finalize_if_done(run_id)
    return outcome


def _document_title(doc: Document, converted_title: str) -> str:
    """The document's own title (PDF metadata, HTML <title>) unless it is only the file name;
    then the title the source gave (SQL title template, link label) wins over the file name."""
    fallback = file_stem(doc.filename or doc.uri)
    if converted_title and converted_title != fallback:
        return converted_title
    given = doc.title if doc.title not in ("", doc.filename, doc.uri) else ""
    return given or converted_title or doc.filename


def _as_f32(values):
    import numpy as np

    return np.asarray(values, dtype=np.float32)


def record_ingest_crash(doc_id: int, run_id: int | None, exc: BaseException) -> bool:
    """An unexpected error: retry later with back-off, or fail the document for good.

    Returns True when a retry was scheduled.
    """
    from django_q.models import Schedule

    doc = Document.objects.filter(pk=doc_id).first()
    if doc is None:
        return False
    attempts = doc.attempts + 1
    Document.objects.filter(pk=doc_id).update(attempts=attempts)
    logger.error("document %s: attempt %s failed", doc_id, attempts, exc_info=exc)
    if attempts < settings.AI_MAX_ATTEMPTS:
        delay = 30 * 2 ** (attempts - 1)
        Schedule.objects.create(
            name=f"ai-retry-{doc_id}-{attempts}",
            func="ai.tasks.ingest_document",
            args=repr((doc_id, run_id)),
            schedule_type=Schedule.ONCE,
            repeats=1,
            next_run=timezone.now() + timedelta(seconds=delay),
        )
        Document.objects.filter(pk=doc_id).update(status=Document.Status.PENDING)
        return True
    _finish(
        doc_id,
        run_id,
        status=Document.Status.FAILED,
        error=UNEXPECTED_ERROR,
        last_outcome=Document.Outcome.FAILED,
    )
    return False


def retry_document(*, user, document: Document) -> IngestionRun:
    """The console's « Réessayer » button: a run of the document's source for this document.

    A web page or SQL row that failed before anything was downloaded can only be fetched
    again by its source: that document is retried by a run of the whole source.
    """
    _check_manage(user, document.collection.direction, "ai.change_collection")
    refetched = (Source.Kind.WEBSITE, Source.Kind.SQL, Source.Kind.APP)
    if not document.file and document.source.kind in refetched:
        audit.record(
            "ai.document.retry",
            actor=user,
            target=document,
            direction_id=document.collection.direction_id,
        )
        return start_run(document.source, user=user)
    run = IngestionRun.objects.create(source=document.source, triggered_by=user, total=1)
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.PENDING, attempts=0, indexed_hash="", last_outcome=""
    )
    audit.record(
        "ai.document.retry",
        actor=user,
        target=document,
        direction_id=document.collection.direction_id,
    )
    from django_q.tasks import async_task

    async_task("ai.tasks.ingest_document", document.pk, run.pk)
    return run
