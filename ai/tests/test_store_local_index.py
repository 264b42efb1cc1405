"""The local numpy index answers exactly like Qdrant local mode, filters included."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from ai.store import DENSE, SPARSE, Hit, VectorStore, fuse, matched_share


@pytest.fixture
def stores(settings):
    settings.QDRANT_URL = None
    settings.QDRANT_PATH = Path(":memory:")
    client = QdrantClient(location=":memory:")
    fast = VectorStore(client, "t", fast_local=True)
    slow = VectorStore(client, "t", fast_local=False)
    rng = np.random.default_rng(1)
    points = []
    for i in range(400):
        payload = {
            "direction_id": int(rng.integers(1, 6)),
            "visibility": ["direction", "internal", "public"][int(rng.integers(0, 3))],
            "collection_id": int(rng.integers(1, 12)),
            "date": int(rng.integers(0, 1000)),
        }
        if i % 17 == 0:
            del payload["collection_id"]  # a missing key matches nothing
        k = int(rng.integers(0, 12))
        points.append(
            models.PointStruct(
                id=str(__import__("uuid").UUID(int=i + 1)),
                vector={
                    DENSE: rng.standard_normal(512).tolist(),
                    SPARSE: models.SparseVector(
                        indices=sorted(rng.choice(60, size=k, replace=False).tolist()),
                        values=rng.random(k).tolist(),
                    ),
                },
                payload=payload,
            )
        )
    fast.upsert(points[:250])
    fast.upsert(points[250:])
    fast.upsert(points[:30])  # re-upserted: same ids, no duplicates
    fast.delete([points[5].id, points[300].id])
    fast.set_collection_payload(3, {"visibility": "public", "direction_id": 9})
    return fast, slow


def filters():
    vis = lambda v: models.FieldCondition(key="visibility", match=models.MatchValue(value=v))  # noqa: E731
    yield None
    yield models.Filter(should=[vis("public"), vis("internal")])
    yield models.Filter(
        must=[
            models.Filter(
                should=[
                    vis("public"),
                    models.FieldCondition(key="direction_id", match=models.MatchAny(any=[2, 9])),
                ]
            ),
            models.FieldCondition(key="collection_id", match=models.MatchAny(any=[3, 4, 5])),
            models.FieldCondition(key="date", range=models.Range(gte=100, lt=800)),
        ]
    )
    yield models.Filter(must_not=[vis("direction")], should=[])
    yield models.Filter(
        must=[
            models.FieldCondition(
                key="collection_id", match=models.MatchExcept(**{"except": [1, 2]})
            )
        ]
    )
    yield models.Filter(
        must=[models.FieldCondition(key="direction_id", match=models.MatchValue(value=77))]
    )


def test_same_candidates_as_qdrant(stores):
    fast, slow = stores
    rng = random.Random(2)
    assert fast.index is not None and len(fast.index) == fast.count() == 398
    for flt in filters():
        for _ in range(5):
            dense = [rng.gauss(0, 1) for _ in range(512)]
            terms = sorted(rng.sample(range(60), 4))
            sparse = {"indices": terms, "values": [1.0] * 4}
            a = fast.candidates(dense, sparse, flt, 25, (DENSE, SPARSE))
            b = slow.candidates(dense, sparse, flt, 25, (DENSE, SPARSE))
            for side in (DENSE, SPARSE):
                assert [h.point_id for h in a.get(side, [])] == [
                    h.point_id for h in b.get(side, [])
                ]
                for x, y in zip(a.get(side, []), b.get(side, []), strict=True):
                    assert x.score == pytest.approx(y.score, abs=1e-4)


def test_index_rebuilt_from_an_existing_collection(stores):
    fast, _ = stores
    again = VectorStore(fast.client, "t")
    dense, sparse = [0.1] * 512, {"indices": [1, 2, 3], "values": [1.0, 1.0, 1.0]}
    a = again.hybrid_query(dense, sparse, None, limit=10)
    b = fast.hybrid_query(dense, sparse, None, limit=10)
    assert [h.point_id for h in a] == [h.point_id for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


def test_fuse_weights_normalised_scores():
    dense = [Hit("a", 0.9), Hit("b", 0.5), Hit("c", 0.1)]
    sparse = [Hit("c", 12.0), Hit("d", 2.0)]
    fused = fuse(dense, sparse, 10, sparse_weight=0.6)
    assert [h.point_id for h in fused] == ["c", "a", "b", "d"]
    assert fused[0].score == pytest.approx(0.6)
    assert fuse([], sparse, 1)[0].point_id == "c"


def test_a_complete_list_is_scaled_from_zero():
    # Fewer hits than asked: the last one is not a cut-off and keeps its share.
    fused = fuse([Hit("a", 0.5), Hit("b", 0.4)], [Hit("b", 2.0), Hit("a", 1.5)], 10, candidates=50)
    assert [h.point_id for h in fused] == ["b", "a"]
    assert fused[1].score == pytest.approx(0.4 * 1.0 + 0.6 * 0.75)


def test_sparse_candidates_name_the_query_terms_they_hold_as_qdrant_does(stores):
    fast, slow = stores
    rng = random.Random(3)
    for flt in filters():
        terms = sorted(rng.sample(range(60), 5))
        sparse = {"indices": terms, "values": [1.0] * 5}
        a = fast.candidates([0.0] * 512, sparse, flt, 25, (SPARSE,)).get(SPARSE, [])
        b = slow.candidates([0.0] * 512, sparse, flt, 25, (SPARSE,)).get(SPARSE, [])
        assert [(h.point_id, h.terms) for h in a] == [(h.point_id, h.terms) for h in b]
        for hit in a:
            assert hit.terms and set(hit.terms) <= set(terms)


def test_matched_share_counts_query_terms_found_in_any_candidate():
    hits = [Hit("a", 3.0, (1, 2)), Hit("b", 1.0, (2,))]
    assert matched_share([1, 2, 3, 4], hits) == 0.5
    assert matched_share([1, 2], hits) == 1.0
    assert matched_share([1, 2], []) == 0.0
    assert matched_share([], hits) == 0.0


@pytest.mark.parametrize("fast_local", [True, False])
def test_a_query_term_no_passage_holds_gives_the_dense_side_the_lead(settings, fast_local):
    settings.QDRANT_URL = None
    store = VectorStore(QdrantClient(location=":memory:"), "t", fast_local=fast_local)
    e1, e2 = np.eye(512)[0], np.eye(512)[1]
    meaning = {"a": e1, "b": e2, "c": (e1 + e2) / np.sqrt(2)}  # the question is e1
    words = {"a": {}, "b": {7: 1.0}, "c": {7: 0.5}}
    store.upsert(
        [
            models.PointStruct(
                id=str(uuid.UUID(int=i + 1)),
                vector={
                    DENSE: meaning[name].tolist(),
                    SPARSE: models.SparseVector(
                        indices=list(words[name]), values=list(words[name].values())
                    ),
                },
                payload={"name": name},
            )
            for i, name in enumerate("abc")
        ]
    )
    names = {str(uuid.UUID(int=i + 1)): name for i, name in enumerate("abc")}

    def ranking(terms):
        sparse = {"indices": terms, "values": [1.0] * len(terms)}
        return [names[h.point_id] for h in store.hybrid_query(e1.tolist(), sparse, None)]

    # Every query term is found: BM25 keeps its usual say and its best match leads.
    assert ranking([7]) == ["b", "c", "a"]
    # Half of the question (term 99) is in no passage: the passage closest in meaning leads.
    assert ranking([7, 99]) == ["a", "c", "b"]
