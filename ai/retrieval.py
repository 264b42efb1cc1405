"""Search with access control, in one place.

The Qdrant filter is built here, server-side, from the user (core.access); nothing from the
client can widen it. Hits are then checked again against the database through the selectors,
and anything they do not return is dropped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from qdrant_client import models

from ai import selectors
from ai.embedding import embed_dense
from ai.models import Chunk, Collection
from ai.sources import app as app_source
from ai.store import VectorStore, get_store
from ai.text import analyze, query_sparse, word_terms
from core import access
from core.models import Visibility


class AccessRefused(PermissionDenied):
    """The user may see nothing: the query is refused rather than run unfiltered."""


@dataclass
class SearchFilters:
    collection_ids: list[int] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None


# A passage is "relevant" when its meaning is close to the question (cosine of the USE
# vectors) or when it holds most of the question's words with a fair cosine. Fused hybrid
# scores are relative (min-max within one query) and say nothing about absolute relevance.
# Calibrated on bench/retrieval.py's figures: the CNIL questions keep 92 % of their gold
# passages and 99 % of the passages they get from the unrelated CRPA set are rejected. The
# CRPA questions against the CNIL FAQ reject less (43 %): both speak of administrative
# documents and personal data, so many of those passages are near-answers, not noise.
RELEVANT_SIMILARITY = 0.34
RELEVANT_COVERAGE = 0.5
COVERAGE_MIN_SIMILARITY = 0.2


@dataclass
class SearchResult:
    chunk: Chunk
    score: float
    snippet: str  # HTML-safe, matches wrapped in <mark>
    similarity: float = 0.0  # cosine between the question's and the passage's dense vectors
    coverage: float = 0.0  # share of the question's terms found in the passage

    @property
    def relevant(self) -> bool:
        return self.similarity >= RELEVANT_SIMILARITY or (
            self.coverage >= RELEVANT_COVERAGE and self.similarity >= COVERAGE_MIN_SIMILARITY
        )

    @property
    def document(self):
        return self.chunk.document

    @property
    def page(self) -> int:
        return self.chunk.page


def access_filter(user) -> models.Filter | None:
    """Qdrant filter of what `user` may read; None only for superusers (everything)."""
    scope = access.scope_for(user)
    if scope.everything:
        return None
    should: list[models.Condition] = []
    if scope.public:
        should.append(
            models.FieldCondition(key="visibility", match=models.MatchValue(value="public"))
        )
    if scope.internal:
        should.append(
            models.FieldCondition(
                key="visibility", match=models.MatchValue(value=Visibility.INTERNAL.value)
            )
        )
    if scope.direction_ids:
        should.append(
            models.FieldCondition(
                key="direction_id", match=models.MatchAny(any=sorted(scope.direction_ids))
            )
        )
    shared = access.shared_ids(user, Collection)
    if shared:
        should.append(
            models.FieldCondition(key="collection_id", match=models.MatchAny(any=sorted(shared)))
        )
    if not should:
        raise AccessRefused("Vous n'avez accès à aucun document.")
    return models.Filter(should=should)


def _narrowing(filters: SearchFilters | None) -> list[models.Condition]:
    if filters is None:
        return []
    must: list[models.Condition] = []
    if filters.collection_ids:
        must.append(
            models.FieldCondition(
                key="collection_id", match=models.MatchAny(any=list(filters.collection_ids))
            )
        )
    if filters.formats:
        must.append(
            models.FieldCondition(key="format", match=models.MatchAny(any=list(filters.formats)))
        )
    tz = timezone.get_current_timezone()
    if filters.since or filters.until:
        rng = models.Range(
            gte=datetime.combine(filters.since, time.min, tzinfo=tz).timestamp()
            if filters.since
            else None,
            lte=datetime.combine(filters.until, time.max, tzinfo=tz).timestamp()
            if filters.until
            else None,
        )
        must.append(models.FieldCondition(key="date", range=rng))
    return must


def build_filter(user, filters: SearchFilters | None = None) -> models.Filter | None:
    base = access_filter(user)
    must = _narrowing(filters)
    if base is None and not must:
        return None
    if base is None:
        return models.Filter(must=must)
    # The access part is nested so narrowing can only ever shrink it.
    return models.Filter(must=[base, *must])


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def snippet(text: str, query: str, width: int = 320) -> str:
    """An HTML-escaped excerpt around the first match, matching words in <mark>."""
    stems = set(analyze(query))
    words = list(_WORD.finditer(text))
    hits = [m for m in words if stems and word_terms(m.group()) & stems]
    start = 0
    if hits:
        start = max(0, hits[0].start() - width // 3)
        space = text.rfind(" ", 0, start)
        start = space + 1 if space > 0 else start
    end = min(len(text), start + width)
    excerpt = text[start:end]
    out, pos = [], 0
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        s, e = m.start() - start, m.end() - start
        out.append(html.escape(excerpt[pos:s]))
        out.append(f"<mark>{html.escape(excerpt[s:e])}</mark>")
        pos = e
    out.append(html.escape(excerpt[pos:]))
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return prefix + "".join(out) + suffix


def _coverage(terms: set[int], chunk: Chunk) -> float:
    """Share of the query's terms in the passage (its text, title and headings), read from
    the stored sparse vector: analysing the text again cost more than the search itself."""
    if not terms:
        return 0.0
    found = terms.intersection((chunk.sparse or {}).get("indices", ()))
    return len(found) / len(terms)


def search(
    user,
    query: str,
    *,
    filters: SearchFilters | None = None,
    limit: int = 10,
    mode: str = "hybrid",
    store: VectorStore | None = None,
    per_document: bool = False,
) -> list[SearchResult]:
    """Hybrid search over what `user` may read, best first.

    `per_document` keeps only the best passage of each document (the search page: ten results
    from ten documents rather than four passages of one long text); the assistants want every
    good passage and leave it off."""
    query = (query or "").strip()
    if not query:
        return []
    qfilter = build_filter(user, filters)
    store = store or get_store()
    vector = embed_dense([query])[0]
    dense = vector.tolist() if mode != "sparse" else [0.0]
    # Twice the limit leaves room for hits the database check drops, four times for the
    # passages of already-listed documents.
    wanted = limit * (4 if per_document else 2)
    sparse_query = query_sparse(query)
    hits = store.hybrid_query(dense, sparse_query, qfilter, limit=wanted, mode=mode)
    if not hits:
        return []
    # Second check, against the database: drop whatever the user's selectors do not return.
    chunks = {
        str(c.pk): c
        for c in selectors.visible_chunks(user)
        .filter(pk__in=[h.point_id for h in hits])
        .select_related("document", "document__collection", "document__source")
    }
    # Third, the owning app's own rule for app-fed documents (a requester's tickets...).
    allowed = app_source.allowed_documents(user, {c.document for c in chunks.values()})
    chunks = {pk: c for pk, c in chunks.items() if c.document_id in allowed}
    terms = set(sparse_query["indices"])
    results = []
    seen: set[int] = set()
    for hit in hits:
        chunk = chunks.get(hit.point_id)
        if chunk is None or (per_document and chunk.document_id in seen):
            continue
        seen.add(chunk.document_id)
        results.append(
            SearchResult(
                chunk,
                hit.score,
                snippet(chunk.text, query),
                similarity=float(np.dot(vector, chunk.dense_vector)),
                coverage=_coverage(terms, chunk),
            )
        )
        if len(results) >= limit:
            break
    return results
