"""Pushes SQL chunks into the vector store: the only writer of Qdrant.

In the embedded default the web process runs `start_sync_thread()` (from config/wsgi.py and
config/asgi.py): background workers write chunks to SQL and never open Qdrant's local folder,
which accepts a single owner. `reindex()` rebuilds the whole index from SQL without embedding.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, transaction
from qdrant_client import models

from ai.models import Chunk, IndexOp
from ai.store import DENSE, SPARSE, VectorStore, get_store

logger = logging.getLogger(__name__)
BATCH = 256


def point_for(chunk: Chunk) -> models.PointStruct:
    payload = chunk.payload()
    document = chunk.document
    payload["format"] = document.format
    stamp = document.source_modified_at or document.created_at
    payload["date"] = int(stamp.timestamp()) if stamp else 0
    return models.PointStruct(
        id=str(chunk.id),
        vector={
            DENSE: chunk.dense_vector.tolist(),
            SPARSE: models.SparseVector(
                indices=chunk.sparse.get("indices", []), values=chunk.sparse.get("values", [])
            ),
        },
        payload=payload,
    )


def _apply_ops(store: VectorStore) -> int:
    ops = list(IndexOp.objects.order_by("pk")[:BATCH])
    for op in ops:
        if op.kind == IndexOp.Kind.DELETE_POINTS:
            store.delete(op.point_ids)
        elif op.kind == IndexOp.Kind.SET_PAYLOAD and op.collection_id_ref is not None:
            store.set_collection_payload(op.collection_id_ref, op.payload)
        op.delete()
    return len(ops)


def sync_pending(store: VectorStore | None = None, max_batches: int | None = None) -> dict:
    """Apply pending deletions and payload changes, then upsert unsynced chunks."""
    store = store or get_store()
    applied = 0
    while True:
        n = _apply_ops(store)
        applied += n
        if n < BATCH:
            break
    upserted = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        chunks = list(
            Chunk.objects.filter(synced=False).select_related("document").order_by("pk")[:BATCH]
        )
        if not chunks:
            break
        store.upsert([point_for(c) for c in chunks])
        Chunk.objects.filter(pk__in=[c.pk for c in chunks]).update(synced=True)
        upserted += len(chunks)
        batches += 1
    return {"ops": applied, "upserted": upserted}


def reindex(store: VectorStore | None = None) -> dict:
    """Rebuild the index from SQL (no embedding): after a crash or a move to a cluster."""
    store = store or get_store()
    with transaction.atomic():
        IndexOp.objects.all().delete()
        Chunk.objects.update(synced=False)
    store.recreate()
    return sync_pending(store)


_thread: threading.Thread | None = None
_stop = threading.Event()


def _loop(interval: float) -> None:
    try:
        # Load the local search copy now, not on the first agent's search.
        get_store().warm_up()
    except Exception:
        logger.exception("vector store warm-up failed")
    finally:
        close_old_connections()
    while not _stop.wait(interval):
        try:
            sync_pending()
        except Exception:
            logger.exception("index sync failed; retrying in %.0f s", interval)
        finally:
            close_old_connections()


def start_sync_thread() -> bool:
    """Start the sync loop once per process (the one that owns the vector store)."""
    global _thread
    if not settings.AI_INDEX_SYNC or (_thread is not None and _thread.is_alive()):
        return False
    _stop.clear()
    _thread = threading.Thread(
        target=_loop, args=(settings.AI_SYNC_INTERVAL,), name="ai-index-sync", daemon=True
    )
    _thread.start()
    logger.info("index sync thread started (every %.1f s)", settings.AI_SYNC_INTERVAL)
    return True


def stop_sync_thread(timeout: float = 5.0) -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout)


def wait_until_synced(timeout: float = 30.0) -> bool:
    """For tests and scripts: True once no chunk or op is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Chunk.objects.filter(synced=False).exists() and not IndexOp.objects.exists():
            return True
        time.sleep(0.2)
    return False
