"""The Qdrant index: one collection of points (dense + sparse vectors, access payload).

Embedded default: Qdrant local mode in QDRANT_PATH, which only ONE client in ONE process may
open; the web process owns it (see ai.index_sync). With QDRANT_URL any process may use it.

Hybrid search asks for the dense and the sparse candidates separately, each under the access
filter, and fuses their scores here (`fuse`): plain reciprocal-rank fusion lost to BM25 alone
on the French Q/A benchmark (bench/retrieval.py), a weighted sum of min-max normalised scores
beats both. The sparse side's weight shrinks with the share of the question's terms that no
sparse candidate contains (`matched_share`): BM25 cannot see those words at all.

Local mode scores every point in Python loops (seconds per filtered query at 100,000 points),
so in local mode the store keeps an in-process numpy copy of its points (`LocalIndex`), fed by
the same writes, and answers queries from it; Qdrant's folder stays the persistent copy. A
filter the copy cannot evaluate exactly is sent to Qdrant instead.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from qdrant_client import QdrantClient, models

from ai.embedding import DENSE_DIM

logger = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "sparse"

# Share of the sparse (BM25) side in the fused score. Measured on the CNIL FAQ and the CRPA
# set (bench/retrieval.py): 0.55-0.65 all beat both single methods; RRF did not on CNIL.
SPARSE_WEIGHT = 0.6


@dataclass
class Hit:
    point_id: str
    score: float
    # Sparse candidates only: the query's term indices found in the point's sparse vector.
    terms: tuple[int, ...] = ()


def matched_share(query_terms: Sequence[int], sparse_hits: Sequence[Hit]) -> float:
    """Share of the query's terms that at least one sparse candidate contains.

    A word no passage the user may see contains (a new compound such as « cyberharcèlement »,
    a typo, a word the passages always spell otherwise) leaves BM25 ranking on the remaining
    words alone, often a single common one: the dense side, which reads the whole question,
    deserves more of the say then. When every term is found (the common case) nothing
    changes. On bench/retrieval.py's CNIL FAQ it recovers two questions and loses none."""
    wanted = set(query_terms)
    if not wanted:
        return 0.0
    found = wanted.intersection(term for hit in sparse_hits for term in hit.terms)
    return len(found) / len(wanted)


def _minmax(scores: list[float], complete: bool = False) -> list[float]:
    """Scale to [0, 1] between the list's worst and best scores. A `complete` list (shorter
    than asked: every candidate is in it) is scaled from 0 instead: its last entry is not a
    cut-off point, and on a handful of points it must not count as nothing."""
    lo, hi = min(scores), max(scores)
    if complete:
        lo = min(lo, 0.0)
    if hi <= lo:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def fuse(
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    limit: int,
    sparse_weight: float = SPARSE_WEIGHT,
    candidates: int | None = None,
) -> list[Hit]:
    """Weighted sum of each list's min-max normalised scores (a point absent from a list
    gets 0 from it): the scores' spread, which ranks alone throw away, says how far ahead
    a candidate is. `candidates` is how many each list was asked for."""
    fused: dict[str, float] = {}
    for hits, weight in ((dense, 1.0 - sparse_weight), (sparse, sparse_weight)):
        if not hits:
            continue
        complete = candidates is not None and len(hits) < candidates
        for hit, norm in zip(hits, _minmax([h.score for h in hits], complete), strict=True):
            fused[hit.point_id] = fused.get(hit.point_id, 0.0) + weight * norm
    ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
    return [Hit(pid, score) for pid, score in ranked[:limit]]


class Unsupported(Exception):
    """A filter the local index cannot evaluate exactly: Qdrant answers instead."""


def _point_key(point_id) -> str:
    """Qdrant's canonical form of a point id (UUIDs lower-case with hyphens)."""
    if isinstance(point_id, int):
        return str(point_id)
    try:
        return str(uuid.UUID(str(point_id)))
    except ValueError:
        return str(point_id)


def _value_code(value):
    """Qdrant matches bool, int, float and str as distinct types (1 != True != 1.0)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("i", value)
    if isinstance(value, float):
        return ("f", value)
    if isinstance(value, str):
        return ("s", value)
    raise Unsupported(f"payload value of type {type(value).__name__}")


class _Column:
    """One payload key as integer codes (exact match) and floats (ranges)."""

    def __init__(self, payloads: list[dict], key: str):
        self.vocab: dict[tuple, int] = {}
        codes = np.full(len(payloads), -1, dtype=np.int64)
        numbers = np.full(len(payloads), np.nan)
        self.error: str | None = None
        for row, payload in enumerate(payloads):
            value = payload.get(key)
            if value is None:
                continue
            try:
                code = _value_code(value)
            except Unsupported as exc:  # lists, objects: leave it to Qdrant
                self.error = str(exc)
                break
            codes[row] = self.vocab.setdefault(code, len(self.vocab))
            if code[0] in ("i", "f"):
                numbers[row] = value
        self.codes = codes
        self.numbers = numbers

    def match(self, values: Iterable) -> np.ndarray:
        wanted = [self.vocab[c] for c in map(_value_code, values) if c in self.vocab]
        if not wanted:
            return np.zeros(len(self.codes), dtype=bool)
        return np.isin(self.codes, wanted)


class LocalIndex:
    """Points of a local-mode collection held as numpy arrays: dense matrix, sparse postings
    sorted by term, payload columns. Exact same scores as Qdrant (cosine; dot product with
    Qdrant's IDF formula), computed in milliseconds instead of Python loops over points."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.payloads: list[dict] = []
        self.alive = np.zeros(0, dtype=bool)
        self.has_sparse = np.zeros(0, dtype=bool)
        self.has_dense = np.zeros(0, dtype=bool)
        self._dense = np.zeros((0, DENSE_DIM), dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # Postings (term, row, weight) sorted by term; new ones wait in `_pending`.
        self._terms = np.zeros(0, dtype=np.uint32)
        self._post_rows = np.zeros(0, dtype=np.int32)
        self._post_vals = np.zeros(0, dtype=np.float32)
        self._columns: dict[str, _Column] = {}
        self._dead = 0

    # -- writes ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, points: Sequence[models.PointStruct]) -> None:
        if not points:
            return
        with self.lock:
            start = len(self.ids)
            n = len(points)
            self._grow(start + n)
            alive = np.zeros(n, dtype=bool)
            has_sparse = np.zeros(n, dtype=bool)
            has_dense = np.zeros(n, dtype=bool)
            for offset, point in enumerate(points):
                row = start + offset
                key = _point_key(point.id)
                old = self.rows.get(key)
                if old is not None:
                    self.alive[old] = False
                    self._dead += 1
                self.rows[key] = row
                self.ids.append(key)
                self.payloads.append(dict(point.payload or {}))
                vectors = point.vector if isinstance(point.vector, dict) else {}
                dense = vectors.get(DENSE)
                if dense is not None:
                    has_dense[offset] = True
                    vec = np.asarray(dense, dtype=np.float32)
                    norm = float(np.linalg.norm(vec))
                    self._dense[row] = vec / norm if norm else vec
                else:
                    self._dense[row] = 0.0
                sparse = vectors.get(SPARSE)
                if sparse is not None:
                    has_sparse[offset] = True
                    if sparse.indices:
                        idx = np.asarray(sparse.indices, dtype=np.uint32)  # Qdrant: u32
                        self._pending.append(
                            (
                                idx,
                                np.full(len(idx), row, dtype=np.int32),
                                np.asarray(sparse.values, dtype=np.float32),
                            )
                        )
                alive[offset] = True
            self.alive = np.concatenate([self.alive, alive])
            self.has_sparse = np.concatenate([self.has_sparse, has_sparse])
            self.has_dense = np.concatenate([self.has_dense, has_dense])
            self._columns.clear()
            self._maybe_compact()

    def delete(self, point_ids: Iterable) -> None:
        with self.lock:
            for pid in point_ids:
                row = self.rows.pop(_point_key(pid), None)
                if row is not None:
                    self.alive[row] = False
                    self._dead += 1
            self._maybe_compact()

    def set_payload_where(self, key: str, value, payload: dict) -> None:
        with self.lock:
            code = _value_code(value)
            for row, current in enumerate(self.payloads):
                if self.alive[row] and key in current:
                    try:
                        if _value_code(current[key]) == code:
                            current.update(payload)
                    except Unsupported:
                        continue
            self._columns.clear()

    def _grow(self, size: int) -> None:
        if size > len(self._dense):
            capacity = max(size, 2 * len(self._dense), 1024)
            grown = np.zeros((capacity, DENSE_DIM), dtype=np.float32)
            grown[: len(self.ids)] = self._dense[: len(self.ids)]
            self._dense = grown

    def _maybe_compact(self) -> None:
        """Drop dead rows once they are a quarter of the index (deletions, re-upserts)."""
        if self._dead < 1000 or self._dead * 4 < len(self.ids):
            return
        keep = np.flatnonzero(self.alive)
        remap = np.full(len(self.ids), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        self._flush_postings()
        live = remap[self._post_rows] >= 0
        self._terms = self._terms[live]
        self._post_rows = remap[self._post_rows[live]].astype(np.int32)
        self._post_vals = self._post_vals[live]
        self._dense = self._dense[keep].copy()
        self.ids = [self.ids[i] for i in keep]
        self.payloads = [self.payloads[i] for i in keep]
        self.rows = {pid: row for row, pid in enumerate(self.ids)}
        self.alive = np.ones(len(keep), dtype=bool)
        self.has_sparse = self.has_sparse[keep]
        self.has_dense = self.has_dense[keep]
        self._columns.clear()
        self._dead = 0

    def _flush_postings(self) -> None:
        if not self._pending:
            return
        terms = np.concatenate([self._terms, *(p[0] for p in self._pending)])
        rows = np.concatenate([self._post_rows, *(p[1] for p in self._pending)])
        vals = np.concatenate([self._post_vals, *(p[2] for p in self._pending)])
        order = np.argsort(terms, kind="stable")
        self._terms, self._post_rows, self._post_vals = terms[order], rows[order], vals[order]
        self._pending = []

    # -- filters -----------------------------------------------------------------------------

    def _column(self, key: str) -> _Column:
        column = self._columns.get(key)
        if column is None:
            if "." in key or "[" in key:
                raise Unsupported(f"nested key {key}")
            column = self._columns[key] = _Column(self.payloads, key)
        if column.error:
            raise Unsupported(column.error)
        return column

    def _condition(self, condition) -> np.ndarray:
        if isinstance(condition, models.Filter):
            return self.mask(condition)
        if isinstance(condition, models.HasIdCondition):
            rows = [self.rows.get(_point_key(pid)) for pid in condition.has_id]
            out = np.zeros(len(self.ids), dtype=bool)
            out[[r for r in rows if r is not None]] = True
            return out
        if not isinstance(condition, models.FieldCondition):
            raise Unsupported(type(condition).__name__)
        others = (
            condition.geo_bounding_box,
            condition.geo_radius,
            condition.geo_polygon,
            condition.values_count,
            condition.is_empty,
            condition.is_null,
        )
        if any(o is not None for o in others):
            raise Unsupported("condition")
        column = self._column(condition.key)
        match, rng = condition.match, condition.range
        if match is not None and rng is None:
            if isinstance(match, models.MatchValue):
                return column.match([match.value])
            if isinstance(match, models.MatchAny):
                return column.match(match.any)
            if isinstance(match, models.MatchExcept):
                present = column.codes >= 0
                return present & ~column.match(match.except_)
            raise Unsupported(type(match).__name__)
        if rng is not None and match is None and isinstance(rng, models.Range):
            values = column.numbers
            out = ~np.isnan(values)
            with np.errstate(invalid="ignore"):
                for bound, op in (
                    (rng.lt, np.less),
                    (rng.lte, np.less_equal),
                    (rng.gt, np.greater),
                    (rng.gte, np.greater_equal),
                ):
                    if bound is not None:
                        out &= op(values, bound)
            return out
        raise Unsupported("field condition")

    def mask(self, flt: models.Filter | None) -> np.ndarray:
        """Rows the filter accepts, with Qdrant's semantics (an empty `should` is no
        constraint; a missing key matches nothing)."""
        n = len(self.ids)
        out = np.ones(n, dtype=bool)
        if flt is None:
            return out
        if flt.min_should is not None:
            raise Unsupported("min_should")

        def listed(clause):
            return clause if isinstance(clause, list) else [clause]

        if flt.must is not None:
            for cond in listed(flt.must):
                out &= self._condition(cond)
        if flt.must_not is not None:
            for cond in listed(flt.must_not):
                out &= ~self._condition(cond)
        if flt.should is not None and listed(flt.should):
            any_of = np.zeros(n, dtype=bool)
            for cond in listed(flt.should):
                any_of |= self._condition(cond)
            out &= any_of
        return out

    # -- search ------------------------------------------------------------------------------

    def _top_rows(self, scores: np.ndarray, limit: int) -> np.ndarray:
        valid = np.flatnonzero(np.isfinite(scores))
        if not len(valid) or limit <= 0:
            return valid[:0]
        if len(valid) > limit:
            part = np.argpartition(-scores[valid], limit - 1)[:limit]
            valid = valid[part]
        return valid[np.argsort(-scores[valid], kind="stable")]

    def _top(self, scores: np.ndarray, limit: int) -> list[Hit]:
        return [Hit(self.ids[i], float(scores[i])) for i in self._top_rows(scores, limit)]

    def search_dense(self, vector, flt: models.Filter | None, limit: int) -> list[Hit]:
        with self.lock:
            mask = self.mask(flt) & self.alive & self.has_dense
            query = np.asarray(vector, dtype=np.float32)
            norm = float(np.linalg.norm(query))
            if norm:
                query = query / norm
            rows = np.flatnonzero(mask)
            scores = np.full(len(self.ids), -np.inf, dtype=np.float32)
            if len(rows) * 4 < len(self.ids):
                scores[rows] = self._dense[rows] @ query  # few visible points: score only those
            else:
                scores[: len(self.ids)] = self._dense[: len(self.ids)] @ query
                scores[~mask] = -np.inf
            return self._top(scores, limit)

    def search_sparse(self, sparse: dict, flt: models.Filter | None, limit: int) -> list[Hit]:
        with self.lock:
            self._flush_postings()
            mask = self.mask(flt) & self.alive
            corpus = int(np.count_nonzero(self.alive & self.has_sparse))
            scores = np.zeros(len(self.ids), dtype=np.float32)
            touched = np.zeros(len(self.ids), dtype=bool)
            postings: list[tuple[int, np.ndarray]] = []
            for term, weight in zip(sparse["indices"], sparse["values"], strict=True):
                lo = np.searchsorted(self._terms, term, "left")
                hi = np.searchsorted(self._terms, term, "right")
                if lo == hi:
                    continue
                rows = self._post_rows[lo:hi]
                live = self.alive[rows]
                rows, vals = rows[live], self._post_vals[lo:hi][live]
                df = len(rows)
                if not df:
                    continue
                # Qdrant's IDF modifier: ln((N - df + 0.5) / (df + 0.5) + 1), over live points.
                idf = math.log((corpus - df + 0.5) / (df + 0.5) + 1.0)
                scores[rows] += np.float32(weight * idf) * vals
                touched[rows] = True
                postings.append((int(term), rows))
            scores[~(touched & mask)] = -np.inf
            top = self._top_rows(scores, limit)
            # Which of the query's terms each candidate holds (see `matched_share`).
            place = {int(row): i for i, row in enumerate(top)}
            terms: list[list[int]] = [[] for _ in top]
            for term, rows in postings:
                for row in rows[np.isin(rows, top)]:
                    terms[place[int(row)]].append(term)
            return [
                Hit(self.ids[row], float(scores[row]), tuple(sorted(found)))
                for row, found in zip(top, terms, strict=True)
            ]


class VectorStore:
    def __init__(self, client: QdrantClient, collection: str, fast_local: bool | None = None):
        self.client = client
        self.collection = collection
        self._ensured = False
        # Local mode ignores payload indexes (and warns about them).
        self.local = not settings.QDRANT_URL
        if fast_local is None:
            fast_local = getattr(settings, "AI_LOCAL_FAST_SEARCH", True)
        self.index: LocalIndex | None = None
        self._fast = self.local and fast_local
        self._index_lock = threading.Lock()

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

    def _local_index(self) -> LocalIndex | None:
        """The numpy copy of the collection (local mode), loaded from Qdrant on first use."""
        if not self._fast:
            return None
        with self._index_lock:
            if self.index is None:
                self.ensure_collection()
                index = LocalIndex()
                offset = None
                while True:
                    points, offset = self.client.scroll(
                        self.collection,
                        limit=1024,
                        offset=offset,
                        with_payload=True,
                        with_vectors=True,
                    )
                    index.add(
                        [
                            models.PointStruct(id=p.id, vector=p.vector or {}, payload=p.payload)
                            for p in points
                        ]
                    )
                    if offset is None:
                        break
                self.index = index
            return self.index

    def warm_up(self) -> None:
        """Load the local index now (about 25 s per 100,000 points) rather than on the first
        search: the web process can call this from a thread when it starts."""
        self._local_index()

    def recreate(self) -> None:
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self._ensured = False
        with self._index_lock:
            self.index = LocalIndex() if self._fast else None
        self.ensure_collection()

    def upsert(self, points: Sequence[models.PointStruct]) -> None:
        if points:
            self.ensure_collection()
            index = self._local_index()
            self.client.upsert(self.collection, points=list(points), wait=True)
            if index is not None:
                index.add(points)

    def delete(self, point_ids: Iterable[str]) -> None:
        ids = list(point_ids)
        if ids:
            self.ensure_collection()
            index = self._local_index()
            self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=ids), wait=True
            )
            if index is not None:
                index.delete(ids)

    def set_collection_payload(self, collection_id: int, payload: dict) -> None:
        self.ensure_collection()
        index = self._local_index()
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
        if index is not None:
            index.set_payload_where("collection_id", collection_id, payload)

    def count(self) -> int:
        self.ensure_collection()
        return self.client.count(self.collection, exact=True).count

    def _qdrant_candidates(
        self, dense, sparse_vec, query_filter, candidates: int, which: tuple[str, ...]
    ) -> dict[str, list[Hit]]:
        """Dense and/or sparse candidates in one round trip, each under the filter. Sparse
        candidates come with their sparse vector, to tell which query terms each one holds."""
        requests = [
            models.QueryRequest(
                query=dense if name == DENSE else sparse_vec,
                using=name,
                filter=query_filter,
                limit=candidates,
                with_payload=False,
                with_vector=[SPARSE] if name == SPARSE else False,
            )
            for name in which
        ]
        responses = self.client.query_batch_points(self.collection, requests=requests)
        wanted = set(sparse_vec.indices)

        def hit(point, name: str) -> Hit:
            if name != SPARSE:
                return Hit(str(point.id), float(point.score))
            vector = point.vector.get(SPARSE) if isinstance(point.vector, dict) else None
            found = wanted.intersection(vector.indices) if vector is not None else ()
            return Hit(str(point.id), float(point.score), tuple(sorted(found)))

        return {
            name: [hit(p, name) for p in response.points]
            for name, response in zip(which, responses, strict=True)
        }

    def candidates(
        self, dense: list[float], sparse: dict, query_filter, limit: int, which: tuple[str, ...]
    ) -> dict[str, list[Hit]]:
        """Best `limit` points by each of `which` (DENSE, SPARSE), under `query_filter`."""
        self.ensure_collection()
        which = tuple(w for w in which if w != SPARSE or sparse["indices"])
        if not which:
            return {}
        index = self._local_index()
        if index is not None:
            try:
                out = {}
                if DENSE in which:
                    out[DENSE] = index.search_dense(dense, query_filter, limit)
                if SPARSE in which:
                    out[SPARSE] = index.search_sparse(sparse, query_filter, limit)
                return out
            except Unsupported as exc:
                logger.debug("local index cannot evaluate the filter (%s): Qdrant answers", exc)
        sparse_vec = models.SparseVector(indices=sparse["indices"], values=sparse["values"])
        return self._qdrant_candidates(dense, sparse_vec, query_filter, limit, which)

    def hybrid_query(
        self,
        dense: list[float],
        sparse: dict,
        query_filter: models.Filter | None,
        limit: int = 10,
        candidates: int = 50,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """Dense, sparse or both fused (`fuse`), always under `query_filter`; the sparse side
        weighs less when some of the query's terms are in none of its candidates."""
        if mode == "dense":
            return self.candidates(dense, sparse, query_filter, limit, (DENSE,)).get(DENSE, [])
        if mode == "sparse":
            return self.candidates(dense, sparse, query_filter, limit, (SPARSE,)).get(SPARSE, [])
        wanted = max(candidates, limit)
        found = self.candidates(dense, sparse, query_filter, wanted, (DENSE, SPARSE))
        sparse_hits = found.get(SPARSE, [])
        weight = SPARSE_WEIGHT * matched_share(sparse["indices"], sparse_hits)
        return fuse(
            found.get(DENSE, []), sparse_hits, limit, sparse_weight=weight, candidates=wanted
        )


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
