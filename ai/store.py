"""The Qdrant index: one collection of points (dense + sparse vectors, access payload).

Embedded default: Qdrant local mode in QDRANT_PATH, which only ONE client in ONE process may
open; the web process owns it (see ai.index_sync). With QDRANT_URL any process may use it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from qdrant_client import QdrantClient, models

from ai.embedding import DENSE_DIM

logger = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "sparse"


@dataclass
class Hit:
    point_id: str
    score: float


class VectorStore:
    def __init__(self, client: QdrantClient, collection: str):
        self.client = client
        self.collection = collection
        self._ensured = False
        # Local mode ignores payload indexes (and warns about them).
        self.local = not settings.QDRANT_URL

    def ensure_collection(self) -> None:
        if self._ensured:
            return
        if not self.client.collection_exists(self.collection):
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=DENSE_DIM, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            for field, schema in (
                ()
                if self.local
                else (
                    ("direction_id", models.PayloadSchemaType.INTEGER),
                    ("collection_id", models.PayloadSchemaType.INTEGER),
                    ("document_id", models.PayloadSchemaType.INTEGER),
                    ("visibility", models.PayloadSchemaType.KEYWORD),
                )
            ):
                # Ignored in local mode, essential on a server with millions of points.
                self.client.create_payload_index(self.collection, field, schema)
        self._ensured = True

    def recreate(self) -> None:
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self._ensured = False
        self.ensure_collection()

    def upsert(self, points: Sequence[models.PointStruct]) -> None:
        if points:
            self.ensure_collection()
            self.client.upsert(self.collection, points=list(points), wait=True)

    def delete(self, point_ids: Iterable[str]) -> None:
        ids = list(point_ids)
        if ids:
            self.ensure_collection()
            self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=ids), wait=True
            )

    def set_collection_payload(self, collection_id: int, payload: dict) -> None:
        self.ensure_collection()
        self.client.set_payload(
            self.collection,
            payload=payload,
            points=models.Filter(
                must=[
                    models.FieldCondition(
                        key="collection_id", match=models.MatchValue(value=collection_id)
                    )
                ]
            ),
            wait=True,
        )

    def count(self) -> int:
        self.ensure_collection()
        return self.client.count(self.collection, exact=True).count

    def hybrid_query(
        self,
        dense: list[float],
        sparse: dict,
        query_filter: models.Filter | None,
        limit: int = 10,
        candidates: int = 50,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Dense, sparse or both fused by reciprocal rank, always under `query_filter`."""
        self.ensure_collection()
        sparse_vec = models.SparseVector(indices=sparse["indices"], values=sparse["values"])
        if mode == "dense":
            result = self.client.query_points(
                self.collection, query=dense, using=DENSE, query_filter=query_filter, limit=limit
            )
        elif mode == "sparse":
            if not sparse["indices"]:
                return []
            result = self.client.query_points(
                self.collection,
                query=sparse_vec,
                using=SPARSE,
                query_filter=query_filter,
                limit=limit,
            )
        else:
            prefetch = [
                models.Prefetch(query=dense, using=DENSE, filter=query_filter, limit=candidates)
            ]
            if sparse["indices"]:
                prefetch.append(
                    models.Prefetch(
                        query=sparse_vec, using=SPARSE, filter=query_filter, limit=candidates
                    )
                )
            result = self.client.query_points(
                self.collection,
                prefetch=prefetch,
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                query_filter=query_filter,
                limit=limit,
            )
        return [Hit(str(p.id), float(p.score)) for p in result.points]


_store: VectorStore | None = None
_store_lock = threading.Lock()


def make_client() -> QdrantClient:
    if settings.QDRANT_URL:
        return QdrantClient(url=settings.QDRANT_URL, api_key=settings.QDRANT_API_KEY)
    path = str(settings.QDRANT_PATH)
    if path == ":memory:":
        return QdrantClient(location=":memory:")
    settings.QDRANT_PATH.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=path)


def get_store() -> VectorStore:
    """The process's store. In local mode only the owning (web) process may call this."""
    global _store
    with _store_lock:
        if _store is None:
            _store = VectorStore(make_client(), settings.QDRANT_COLLECTION)
        return _store


def reset_store() -> None:
    """Forget the process's client (tests, or after a settings change)."""
    global _store
    with _store_lock:
        if _store is not None:
            try:
                _store.client.close()
            except Exception:  # closing a dead client must not hide the caller's error
                logger.debug("closing the Qdrant client failed", exc_info=True)
        _store = None
