"""Retrieval benchmark on Etalab's French Q/A sets, through the product's own code.

    python bench/retrieval.py [--titles] [--queries-100k N] [--skip-100k]

Each distinct passage of the CNIL FAQ and of the CRPA set becomes one uploaded .txt document
(one collection per set), ingested by the product (converter, chunker, dense and sparse
embedders, SQL, index sync into Qdrant local mode), then every question is asked through
`ai.retrieval.search` as an agent of the owning direction, in the three modes. A hit is a
returned chunk of the gold passage's document. Results are one per document, as on the search
page (`--passages` ranks raw passages, as the assistants receive them). Latency is measured
on hybrid searches (query embedding, Qdrant, database check), then again with the store
padded with synthetic points to 100,000 (random unit dense vectors, sparse vectors drawn from
the real vocabulary, payloads spread over 30 directions, so the access filter still does its
work). `relevance_*` figures say how well the relevance cut-off (`SearchResult.relevant`)
keeps gold passages and rejects off-topic ones (one set's questions against the other set).

In these sets every SQuAD article title IS the question, word for word. Documents are
therefore titled by their file name by default; `--titles` writes the article title as the
document's heading instead, which leaks the answer and is only there to show the leak.

Prints one `name=value` line per figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _throwaway import configure  # bench/, first on sys.path when a script runs

# One BLAS thread: on 2 shared cores OpenBLAS's spinning threads turn a 2 ms query embedding
# into 150 ms as soon as another process (a worker embedding documents) takes a core. Must be
# set before numpy loads; `OPENBLAS_NUM_THREADS=2 python bench/retrieval.py` to compare.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SETS = {
    "cnil": "b_qa_public_service/piaf-ml/cnil_faq_squad.json",
    "crpa": "b_qa_public_service/piaf-ml/crpa_chatbot_squad.json",
}
MODES = ("sparse", "dense", "hybrid")
PADDED_SIZE = 100_000
PAD_DIRECTIONS = 30
PAD_ID_BASE = 0xB3 << 120  # synthetic point ids: UUIDs no chunk can have (uuid5 sets a version)


@dataclass
class QaSet:
    name: str
    passages: list[tuple[str, str]] = field(default_factory=list)  # (title, context)
    questions: list[tuple[str, int]] = field(default_factory=list)  # (question, passage index)
    doc_ids: list[int] = field(default_factory=list)  # passage index -> Document pk
    collection_id: int = 0


def load_set(name: str, corpus: Path) -> QaSet:
    """Passages deduplicated on their context; each question points at its passage."""
    data = json.loads((corpus / SETS[name]).read_text(encoding="utf-8"))
    qa = QaSet(name)
    index: dict[str, int] = {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].strip()
            if context not in index:
                index[context] = len(qa.passages)
                qa.passages.append((article["title"].strip(), context))
            for item in paragraph["qas"]:
                if item["question"].strip():
                    qa.questions.append((item["question"].strip(), index[context]))
    return qa


def make_org():
    """The owning direction, its AI administrator and agent, and 29 other directions."""
    from django.contrib.auth.models import Group

    from core.models import Direction, Membership, User
    from core.roles import ADMIN_IA, AGENT
    from core.services import sync_roles

    sync_roles()
    home = Direction.objects.create(code="DAJ", name="Affaires juridiques")
    others = [
        Direction.objects.create(code=f"D{i:02d}", name=f"Direction {i:02d}")
        for i in range(1, PAD_DIRECTIONS)
    ]

    def person(username: str, roles: list[str]):
        user = User.objects.create_user(username, f"{username}@ville.example", None)
        user.groups.set(Group.objects.filter(name__in=roles))
        Membership.objects.create(user=user, direction=home)
        return User.objects.get(pk=user.pk)

    admin = person("admin-ia", [AGENT, ADMIN_IA])
    agent = person("agent", [AGENT])
    return home, others, admin, agent


def index_set(qa: QaSet, home, admin, titles: bool) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ai import services
    from ai.models import Document, IngestionRun, Source
    from core.models import Visibility

    collection = services.create_collection(
        user=admin,
        name=f"FAQ {qa.name.upper()}",
        slug=f"faq-{qa.name}",
        direction=home,
        visibility=Visibility.DIRECTION,
    )
    source = services.create_source(
        user=admin, collection=collection, name="Dépôt", kind=Source.Kind.UPLOAD
    )
    files = []
    for i, (title, context) in enumerate(qa.passages):
        if titles:
            body, name = f"# {title}\n\n{context}\n", f"{qa.name}-{i:04d}.md"
        else:
            body, name = f"{context}\n", f"{qa.name}-{i:04d}.txt"
        files.append(SimpleUploadedFile(name, body.encode("utf-8")))
    docs = services.add_uploads(user=admin, source=source, files=files)
    run = services.start_run(source, user=admin, inline=True)
    run.refresh_from_db()
    if run.status != IngestionRun.Status.DONE:
        raise SystemExit(f"{qa.name}: ingestion run ended as {run.status}: {run.error}")
    failed = Document.objects.filter(source=source, status=Document.Status.FAILED).count()
    if failed:
        print(f"# {qa.name}: {failed} passages failed to ingest", file=sys.stderr)
    qa.doc_ids = [d.pk for d in docs]
    qa.collection_id = collection.pk


def evaluate(
    qa: QaSet, agent, figures: dict, latencies: list[float], per_document: bool = True
) -> None:
    from ai.retrieval import SearchFilters, search

    narrow = SearchFilters(collection_ids=[qa.collection_id])
    for mode in MODES:
        hit1 = hit5 = rr = 0.0
        for question, passage in qa.questions:
            gold = qa.doc_ids[passage]
            t0 = time.perf_counter()
            results = search(
                agent, question, filters=narrow, limit=10, mode=mode, per_document=per_document
            )
            if mode == "hybrid":
                latencies.append((time.perf_counter() - t0) * 1000)
            ranks = [r for r, res in enumerate(results, 1) if res.chunk.document_id == gold]
            if ranks:
                hit1 += ranks[0] == 1
                hit5 += ranks[0] <= 5
                rr += 1 / ranks[0]
        n = len(qa.questions)
        figures[f"{qa.name}_{mode}_hit@5"] = hit5 / n
        figures[f"{qa.name}_{mode}_hit@1"] = hit1 / n
        figures[f"{qa.name}_{mode}_mrr@10"] = rr / n


DUMP: list = []


def relevance(own: QaSet, other: QaSet, agent, figures: dict) -> None:
    """How well `SearchResult.relevant` separates answerable from off-topic questions: own's
    questions against own's collection (the gold passage, when found in the top 5, should be
    relevant) and against other's collection (nothing there answers them: no result should be).
    Prints the similarity quantiles too, to recalibrate the thresholds."""
    from ai.retrieval import SearchFilters, search

    gold_sims, gold_kept, found = [], 0, 0
    off_sims, off_rejected = [], 0
    for question, passage in own.questions:
        gold = own.doc_ids[passage]
        results = search(
            agent, question, filters=SearchFilters(collection_ids=[own.collection_id]), limit=5
        )
        for res in results:
            if res.chunk.document_id == gold:
                found += 1
                gold_kept += res.relevant
                gold_sims.append(res.similarity)
                DUMP.append((own.name, "gold", res.similarity, res.coverage))
                break
        results = search(
            agent, question, filters=SearchFilters(collection_ids=[other.collection_id]), limit=5
        )
        off_rejected += not any(r.relevant for r in results)
        for r in results:
            DUMP.append((own.name, "off", r.similarity, r.coverage))
        if results:
            off_sims.append(max(r.similarity for r in results))
    figures[f"{own.name}_relevance_gold_kept"] = gold_kept / max(found, 1)
    figures[f"{own.name}_relevance_offtopic_rejected"] = off_rejected / len(own.questions)
    for q in (10, 25, 50):
        figures[f"{own.name}_gold_similarity_p{q}"] = percentile(gold_sims, q)
    for q in (50, 75, 90):
        figures[f"{own.name}_offtopic_best_similarity_p{q}"] = percentile(off_sims, q)


def timed_searches(agent, questions: list[str], store=None) -> list[float]:
    """Hybrid searches as the agent (no narrowing): embedding, vector search, database check."""
    from ai.retrieval import search

    out = []
    for question in questions:
        t0 = time.perf_counter()
        search(agent, question, limit=10, store=store)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def qdrant_store():
    """The same collection, searched by Qdrant itself (local mode) instead of the numpy copy."""
    from ai.store import VectorStore, get_store

    store = get_store()
    return VectorStore(store.client, store.collection, fast_local=False)


def index_load_time() -> float:
    """Cold start: a new process builds its numpy copy from the Qdrant collection."""
    from ai.store import VectorStore, get_store

    store = get_store()
    fresh = VectorStore(store.client, store.collection)
    t0 = time.perf_counter()
    fresh.warm_up()
    return time.perf_counter() - t0 if fresh.index is not None else float("nan")


def agreement(agent, questions: list[str]) -> tuple[float, float]:
    """Do the numpy copy and Qdrant return the same candidates with the same scores?

    Returns the share of (question, side) pairs whose top 50 ids are identical up to ties, and
    the largest score difference seen.
    """
    from ai.embedding import embed_dense
    from ai.retrieval import build_filter
    from ai.store import DENSE, SPARSE, get_store
    from ai.text import query_sparse

    fast, slow = get_store(), qdrant_store()
    if fast.index is None:
        return 0.0, float("nan")
    qfilter = build_filter(agent)
    same, total, worst = 0, 0, 0.0
    for question in questions:
        dense = embed_dense([question])[0].tolist()
        sparse = query_sparse(question)
        a = fast.candidates(dense, sparse, qfilter, 50, (DENSE, SPARSE))
        b = slow.candidates(dense, sparse, qfilter, 50, (DENSE, SPARSE))
        for side in (DENSE, SPARSE):
            x, y = a.get(side, []), b.get(side, [])
            total += 1
            if len(x) != len(y):
                continue
            diffs = [abs(h.score - g.score) for h, g in zip(x, y, strict=True)]
            worst = max([worst, *diffs])
            # Equal scores may come in either order: compare ids above the last score.
            cut = y[-1].score if y else 0.0
            if {h.point_id for h in x if h.score > cut + 1e-4} == {
                g.point_id for g in y if g.score > cut + 1e-4
            } and max(diffs, default=0.0) < 1e-3:
                same += 1
    return same / max(total, 1), worst


def pad_store(home, others, target: int, seed: int = 7) -> float:
    """Fill the Qdrant collection up to `target` points with synthetic, realistic-shaped ones."""
    import numpy as np
    from qdrant_client import models

    from ai.embedding import DENSE_DIM
    from ai.models import Chunk
    from ai.store import DENSE, SPARSE, get_store

    store = get_store()
    missing = target - store.count()
    if missing <= 0:
        return 0.0
    rng = np.random.default_rng(seed)
    df: dict[int, int] = {}
    lengths, values = [], []
    for sparse in Chunk.objects.values_list("sparse", flat=True):
        lengths.append(len(sparse["indices"]))
        values.extend(sparse["values"])
        for idx in sparse["indices"]:
            df[idx] = df.get(idx, 0) + 1
    vocab = np.array(list(df), dtype=np.int64)
    prob = np.array([df[i] for i in vocab], dtype=np.float64)
    prob /= prob.sum()
    values_arr = np.array(values, dtype=np.float32)
    lengths_arr = np.array(lengths)
    direction_ids = [home.pk] + [d.pk for d in others]
    t0 = time.perf_counter()
    batch = 2000
    for start in range(0, missing, batch):
        n = min(batch, missing - start)
        dense = rng.standard_normal((n, DENSE_DIM)).astype(np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        points = []
        for row in range(n):
            k = int(min(rng.choice(lengths_arr), len(vocab)))
            terms = np.sort(rng.choice(vocab, size=k, replace=False, p=prob))
            vis = rng.choice(["direction", "internal", "public"], p=[0.7, 0.25, 0.05])
            points.append(
                models.PointStruct(
                    id=str(uuid.UUID(int=PAD_ID_BASE + start + row)),
                    vector={
                        DENSE: dense[row].tolist(),
                        SPARSE: models.SparseVector(
                            indices=terms.tolist(),
                            values=rng.choice(values_arr, size=k).tolist(),
                        ),
                    },
                    payload={
                        "direction_id": int(rng.choice(direction_ids)),
                        "visibility": str(vis),
                        "collection_id": int(100_000 + rng.integers(0, 300)),
                        "app": "ai",
                        "object_id": int(10**9 + start + row),
                        "document_id": int(10**9 + start + row),
                        "format": "pdf",
                        "date": 1_700_000_000,
                    },
                )
            )
        store.upsert(points)
    return time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", action="store_true", help="title = SQuAD title (leaks)")
    parser.add_argument("--skip-100k", action="store_true")
    parser.add_argument(
        "--passages",
        action="store_true",
        help="rank passages (as the assistants do) instead of one result per document",
    )
    parser.add_argument("--queries-100k", type=int, default=100)
    parser.add_argument(
        "--qdrant-100k",
        type=int,
        default=3,
        help="queries answered by Qdrant local mode itself at 100k (seconds each)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    try:
        configure(tmp)
        from django.conf import settings

        from ai.embedding import embed_dense
        from ai.index_sync import sync_pending
        from ai.models import Chunk
        from ai.store import get_store

        corpus = Path(settings.CORPUS_DIR)
        if not (corpus / SETS["cnil"]).is_file():
            print(f"# corpus not found under {corpus} (set CORPUS_DIR)", file=sys.stderr)
            return 2
        sets = [load_set(name, corpus) for name in SETS]
        home, others, admin, agent = make_org()
        embed_dense(["échauffement du modèle"])  # load the model outside the timings

        figures: dict[str, float] = {"blas_threads": int(os.environ["OPENBLAS_NUM_THREADS"])}
        t0 = time.perf_counter()
        for qa in sets:
            index_set(qa, home, admin, args.titles)
        t_ingest = time.perf_counter() - t0
        t1 = time.perf_counter()
        sync_pending()
        t_sync = time.perf_counter() - t1
        figures["passages"] = sum(len(qa.passages) for qa in sets)
        figures["chunks"] = Chunk.objects.count()
        figures["index_s"] = t_ingest + t_sync
        figures["index_sync_s"] = t_sync

        latencies: list[float] = []
        quality: dict[str, float] = {}
        for qa in sets:
            evaluate(qa, agent, quality, latencies, per_document=not args.passages)
        for qa in sets:
            for metric in ("hit@5", "hit@1", "mrr@10"):
                for mode in MODES:
                    name = f"{qa.name}_{mode}_{metric}"
                    figures[name] = quality[name]
        relevance(sets[0], sets[1], agent, figures)
        relevance(sets[1], sets[0], agent, figures)
        if os.environ.get("RELEVANCE_DUMP"):
            Path(os.environ["RELEVANCE_DUMP"]).write_text(json.dumps(DUMP))
        questions = [q for qa in sets for q, _ in qa.questions]
        base = timed_searches(agent, questions)
        figures["p50_ms"] = percentile(base, 50)
        figures["p95_ms"] = percentile(base, 95)
        figures["eval_p95_ms"] = percentile(latencies, 95)
        share, worst = agreement(agent, questions[::10])
        figures["fast_vs_qdrant_agreement"] = share
        figures["fast_vs_qdrant_max_score_diff"] = worst

        if not args.skip_100k:
            figures["pad_s"] = pad_store(home, others, PADDED_SIZE)
            figures["points_100k"] = get_store().count()
            pick = random.Random(3)  # noqa: S311 - a reproducible sample, not a secret
            sample = pick.sample(questions, min(args.queries_100k, len(questions)))
            timed_searches(agent, sample[:3])  # first queries after a bulk upsert warm caches
            padded = timed_searches(agent, sample)
            figures["p50_ms_100k"] = percentile(padded, 50)
            figures["p95_ms_100k"] = percentile(padded, 95)
            if args.qdrant_100k:
                few = sample[: args.qdrant_100k]
                slow = timed_searches(agent, few, store=qdrant_store())
                figures["qdrant_local_p50_ms_100k"] = percentile(slow, 50)
                share, worst = agreement(agent, few)
                figures["fast_vs_qdrant_agreement_100k"] = share
                figures["fast_vs_qdrant_max_score_diff_100k"] = worst
            figures["local_index_load_s_100k"] = index_load_time()

        out = io.StringIO()
        for name, value in figures.items():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            if name.endswith(("_ms", "_ms_100k", "_s", "_s_100k")):
                text = f"{value:.1f}"
            elif name.endswith(("_diff", "_diff_100k")):
                text = f"{value:.2e}"
            print(f"{name}={text}", file=out)
        sys.stdout.write(out.getvalue())
        return 0
    finally:
        from ai.store import reset_store

        reset_store()
        if args.keep:
            print(f"# kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
