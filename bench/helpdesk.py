"""Helpdesk benchmark: category suggestion on real support tickets, through the product's code.

    python bench/helpdesk.py

Reads `g_helpdesk_tickets/endava_support_tickets_all.csv` under `CORPUS_DIR` (5,431 anonymised,
stop-word-stripped English tickets; label = `category`, 9 coded categories), makes a fixed
stratified 80/20 split (`train_test_split(..., stratify=labels, random_state=0)`; the one
category with a single ticket cannot be stratified and is left out), then measures:

- the product's classifier (`helpdesk.classifier.train` on the 80 %, `predict` on the 20 %):
  `category_accuracy`, `category_macro_f1`, `train_s` (including its own cross-validated
  measurement and the embedding of every training ticket), `predict_ms_p50` (one ticket at a
  time, embedding included), and the figures it measured on itself at training time (`cv_`);
- the baselines on the same split: `majority_` (always the most frequent category) and `tfidf_`
  (scikit-learn's default TfidfVectorizer + LogisticRegression);
- `similar_precision@5`: the training tickets become resolved tickets in a throw-away database,
  indexed for the IT department by the product (source `helpdesk.technicians`, converter,
  chunker, embedders, Qdrant in memory); for each test ticket, the technician's page's search
  (`helpdesk.selectors.similar_resolved`, hybrid search + relevance cut + access checks) gives
  up to 5 similar tickets; the figure is the share of the 5 slots filled by a ticket with the
  same `sub_category1` (an empty slot counts as a miss: the technician sees nothing there).
  `similar_shown_mean` says how many of the 5 the relevance cut lets through, `similar_ms_p50`
  the time of one search. Imported tickets carry no resolution text, so each gets the same
  neutral one (« Résolu. »), which helps no ticket over another;
- `tfidf_similar_precision@5`: for each test ticket, the share of its 5 most similar training
  tickets (TF-IDF cosine) with the same `sub_category1`, the baseline for similar-ticket search.

A ticket's text is `f"{title}\\n{body}"`, as the product will pass it. Prints one `name=value`
line per figure. Targets: category_accuracy >= tfidf_category_accuracy, similar_precision@5 >=
tfidf_similar_precision@5. `--skip-similar` leaves the product's similar search out (~10 min).
"""

from __future__ import annotations

import csv
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _throwaway import configure  # bench/, first on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
CSV = Path("g_helpdesk_tickets") / "endava_support_tickets_all.csv"
SINGLE_RUNS = 100


def _load(corpus: Path) -> tuple[list[str], list[str], list[str], list[tuple[str, str, str]]]:
    path = corpus / CSV
    if not path.is_file():
        raise SystemExit(f"corpus file missing: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    counts = Counter(row["category"] for row in rows)
    rows = [row for row in rows if counts[row["category"]] >= 2]
    texts = [f"{row['title']}\n{row['body']}".strip() for row in rows]
    return (
        texts,
        [row["category"] for row in rows],
        [row["sub_category1"] for row in rows],
        [(row["title"], row["body"], row["sub_category1"]) for row in rows],
    )


def _scores(truth: list[str], predicted: list[str]) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return (
        round(float(accuracy_score(truth, predicted)), 4),
        round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
    )


def _similar(train: list[tuple[str, str, str]], test: list[tuple[str, str, str]]) -> dict:
    """The product's similar-ticket search: (title, body, sub_category1) rows."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from ai import services as ai_services
    from ai.index_sync import sync_pending
    from ai.models import Document, Source
    from core.models import Direction, Membership, User, Visibility
    from core.roles import ADMIN_IA, AGENT, TECHNICIEN_DSI
    from core.services import sync_roles
    from helpdesk.models import Ticket
    from helpdesk.selectors import similar_resolved

    sync_roles()
    dsi = Direction.objects.create(code="DSI", name="Systèmes d'information")

    def person(username: str, roles: list[str]):
        user = User.objects.create_user(username, f"{username}@ville.example", None)
        user.groups.set(Group.objects.filter(name__in=roles))
        Membership.objects.create(user=user, direction=dsi)
        return User.objects.get(pk=user.pk)

    admin = person("admin-ia", [AGENT, ADMIN_IA])
    technician = person("technicien", [AGENT, TECHNICIEN_DSI])
    now = timezone.now()
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                title=title[:250] or "(sans titre)",
                description=body,
                status=Ticket.Status.RESOLVED,
                resolution="Résolu.",
                origin=Ticket.Origin.IMPORT,
                external_id=str(i),
                created_at=now,
                resolved_at=now,
            )
            for i, (title, body, _) in enumerate(train)
        ]
    )
    sub_of = {t.pk: train[int(t.external_id)][2] for t in Ticket.objects.all()}
    collection = ai_services.create_collection(
        user=admin,
        name="Résolutions",
        slug="resolutions",
        direction=dsi,
        visibility=Visibility.DIRECTION,
    )
    source = ai_services.create_source(
        user=admin,
        collection=collection,
        name="Tickets",
        kind=Source.Kind.APP,
        config={"provider": "helpdesk.technicians"},
    )
    started = time.perf_counter()
    ai_services.start_run(source, user=admin, inline=True)
    sync_pending()
    index_s = time.perf_counter() - started
    indexed = Document.objects.filter(status=Document.Status.INDEXED).count()

    hits, shown, single_ms = [], [], []
    for title, body, sub in test:
        query = Ticket(title=title, description=body)
        started = time.perf_counter()
        found = similar_resolved(technician, query, limit=5)
        single_ms.append((time.perf_counter() - started) * 1000)
        shown.append(len(found))
        hits.append(sum(sub_of[t.pk] == sub for t, _ in found) / 5)
    return {
        "similar_indexed_tickets": f"{indexed}/{len(tickets)}",
        "similar_index_s": round(index_s, 1),
        "similar_precision@5": round(statistics.mean(hits), 4),
        "similar_shown_mean": round(statistics.mean(shown), 2),
        "similar_ms_p50": round(statistics.median(single_ms), 1),
    }


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-helpdesk-"))
    try:
        _run(tmp, skip_similar="--skip-similar" in sys.argv[1:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, skip_similar: bool) -> None:
    configure(tmp)
    import numpy as np
    from django.conf import settings
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from ai.embedding import embed_dense
    from helpdesk import classifier

    texts, labels, subs, rows = _load(Path(settings.CORPUS_DIR))
    index = list(range(len(texts)))
    train_idx, test_idx = train_test_split(index, test_size=0.2, stratify=labels, random_state=0)
    x_train = [texts[i] for i in train_idx]
    y_train = [labels[i] for i in train_idx]
    x_test = [texts[i] for i in test_idx]
    y_test = [labels[i] for i in test_idx]

    embed_dense(["Échauffement du modèle avant la mesure."])
    started = time.perf_counter()
    model = classifier.train(x_train, y_train, random_state=0)
    train_s = time.perf_counter() - started

    # One ticket at a time, as a technician's form asks, before the batch caches their vectors.
    single_ms = []
    for text in x_test[:SINGLE_RUNS]:
        started = time.perf_counter()
        model.predict([text])
        single_ms.append((time.perf_counter() - started) * 1000)
    predicted = [s.label for s in model.predict(x_test)]
    accuracy, macro_f1 = _scores(y_test, predicted)

    majority = Counter(y_train).most_common(1)[0][0]
    majority_accuracy, majority_f1 = _scores(y_test, [majority] * len(y_test))

    vectorizer = TfidfVectorizer().fit(x_train)
    tf_train, tf_test = vectorizer.transform(x_train), vectorizer.transform(x_test)
    baseline = LogisticRegression(max_iter=3000).fit(tf_train, y_train)
    tfidf_accuracy, tfidf_f1 = _scores(y_test, list(baseline.predict(tf_test)))

    # TF-IDF rows are unit vectors: the dot product is the cosine.
    similarity = (tf_test @ tf_train.T).toarray()
    top5 = np.argsort(-similarity, axis=1, kind="stable")[:, :5]
    train_subs = np.array([subs[i] for i in train_idx])
    test_subs = np.array([subs[i] for i in test_idx])
    similar_p5 = float(np.mean(train_subs[top5] == test_subs[:, None]))

    figures = {
        "tickets": len(texts),
        "train_tickets": len(x_train),
        "test_tickets": len(x_test),
        "categories": len(set(labels)),
        "category_accuracy": accuracy,
        "category_macro_f1": macro_f1,
        "majority_category_accuracy": majority_accuracy,
        "majority_category_macro_f1": majority_f1,
        "tfidf_category_accuracy": tfidf_accuracy,
        "tfidf_category_macro_f1": tfidf_f1,
        # What the console shows: measured by the model on its own training tickets.
        "cv_category_accuracy": model.accuracy,
        "cv_category_macro_f1": model.macro_f1,
        "train_s": round(train_s, 2),
        "predict_ms_p50": round(statistics.median(single_ms), 2),
        "tfidf_similar_precision@5": round(similar_p5, 4),
    }
    if not skip_similar:
        figures.update(_similar([rows[i] for i in train_idx], [rows[i] for i in test_idx]))
    for name, value in figures.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
