"""Category suggestion for helpdesk tickets, learned from past tickets.

A pure service over (text, label) pairs: it knows nothing of the ticket models, which feed it
their history and store the returned `CategoryModel` with `save` / `load`.

A ticket is passed as one text, ``f"{title}\\n{body}"``: its first line counts as the subject and
weighs a second time (subjects name the problem; bodies carry greetings and signatures).

The model is a logistic regression (class-balanced: rare categories matter to technicians) over:

- TF-IDF of the project's French analysis (`ai.text.analyze`: stems, accents folded, stop
  words removed; English words pass through it unharmed), word unigrams and bigrams, of the
  whole ticket;
- TF-IDF of the subject's terms alone, at half weight;
- the multilingual sentence embedding (`ai.embedding.embed_dense`, 512-d unit vectors) at half
  weight, so that new phrasings of a known problem ("courriel" for "messagerie") still land.

It stays explainable: each category's weights on the TF-IDF terms say which words drive it
(`CategoryModel.top_terms`). On the Endava tickets (bench/helpdesk.py) this beats TF-IDF + LR.

Rules for awkward histories:

- a category with fewer than `MIN_MEASURED` tickets is kept for training (the model can suggest
  it) but left out of the accuracy measurement, which needs two tickets per category to stratify;
- blank texts carry nothing to learn from and are left out of training; predicting on a blank
  text returns the categories' prior (no crash);
- fewer than two categories: a French `ValueError`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import joblib
import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from ai.text import analyze

logger = logging.getLogger(__name__)

# Bump when the features or the saved layout change: older files are then refused by `load`.
FORMAT_VERSION = 1
MIN_MEASURED = 2
CV_FOLDS = 5
SUBJECT_WEIGHT = 0.5
DENSE_WEIGHT = 0.5
LR_C = 3.0

SINGLE_CLASS_ERROR = "Il faut au moins deux catégories pour entraîner la suggestion."
NO_TEXT_ERROR = "Aucun ticket avec du texte : impossible d'entraîner la suggestion."


def _sklearn_series() -> str:
    return ".".join(sklearn.__version__.split(".")[:2])


def model_version() -> str:
    """Saved-format version and the scikit-learn series it was pickled with."""
    return f"{FORMAT_VERSION}+sklearn{_sklearn_series()}"


# --- features ---------------------------------------------------------------------------------


def _terms(text: str) -> list[str]:
    return analyze(text)


def _terms_and_bigrams(text: str) -> list[str]:
    terms = analyze(text)
    return terms + [f"{a} {b}" for a, b in pairwise(terms)]


def _subject(text: str) -> str:
    return text.strip().split("\n", 1)[0]


# Retraining (console or schedule) and the accuracy measurement see the same tickets again and
# again: their vectors are kept by content, bounded (512 floats = 2 KB a ticket).
_CACHE_SIZE = 50_000
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def embed(texts: Sequence[str]) -> np.ndarray:
    """Dense vectors of `texts` through the shared embedder, with a per-process cache."""
    from ai.embedding import DENSE_DIM, embed_dense

    keys = [hashlib.sha1(t.encode("utf-8"), usedforsecurity=False).hexdigest() for t in texts]
    with _cache_lock:
        found = {k: _cache[k] for k in keys if k in _cache}
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        by_key = dict(zip(keys, texts, strict=True))
        vectors = embed_dense([by_key[k] for k in missing])
        with _cache_lock:
            for key, vector in zip(missing, vectors, strict=True):
                found[key] = vector
                _cache[key] = vector
                _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if not keys:
        return np.zeros((0, DENSE_DIM), dtype=np.float32)
    return np.vstack([found[k] for k in keys])


class TicketFeatures(BaseEstimator, TransformerMixin):
    """Ticket texts → [TF-IDF of terms and bigrams | TF-IDF of the subject | dense embedding]."""

    def __init__(
        self,
        subject_weight: float = SUBJECT_WEIGHT,
        dense_weight: float = DENSE_WEIGHT,
        min_df: int = 1,
    ):
        self.subject_weight = subject_weight
        self.dense_weight = dense_weight
        self.min_df = min_df

    def fit(self, texts, y=None):
        texts = list(texts)
        self.body_ = TfidfVectorizer(
            analyzer=_terms_and_bigrams, sublinear_tf=True, min_df=self.min_df
        ).fit(texts)
        self.subject_ = TfidfVectorizer(analyzer=_terms, sublinear_tf=True).fit(
            [_subject(t) for t in texts]
        )
        return self

    def transform(self, texts):
        texts = list(texts)
        blocks = [
            self.body_.transform(texts),
            self.subject_.transform([_subject(t) for t in texts]) * self.subject_weight,
        ]
        if self.dense_weight:
            blocks.append(csr_matrix(embed(texts) * self.dense_weight))
        return hstack(blocks).tocsr()


def build_estimator(n_samples: int, random_state: int = 0) -> Pipeline:
    # Bigrams seen once are noise on a large history, but all a small one has.
    min_df = 2 if n_samples >= 1000 else 1
    return Pipeline(
        [
            ("features", TicketFeatures(min_df=min_df)),
            (
                "classifier",
                LogisticRegression(
                    C=LR_C, class_weight="balanced", max_iter=3000, random_state=random_state
                ),
            ),
        ]
    )


# --- model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    label: str
    probability: float
    # The other categories, most likely first.
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class CategoryModel:
    """A trained estimator plus what the console shows about it."""

    estimator: Pipeline
    classes: list[str]
    n_samples: int
    trained_at: datetime
    # Cross-validated on the training tickets (stratified folds); None when the history is too
    # small to measure (fewer than two categories with two tickets each).
    accuracy: float | None
    macro_f1: float | None
    n_measured: int
    version: str = field(default_factory=model_version)
    class_counts: dict[str, int] = field(default_factory=dict)

    def predict(self, texts: Sequence[str], alternatives: int | None = None) -> list[Suggestion]:
        """One suggestion per text; `alternatives` caps the others listed (None: all)."""
        texts = [t or "" for t in texts]
        if not texts:
            return []
        probabilities = self.estimator.predict_proba(texts)
        labels = [str(c) for c in self.estimator.classes_]
        out = []
        for row in probabilities:
            order = np.argsort(-row, kind="stable")
            ranked = [(labels[i], float(row[i])) for i in order]
            others = ranked[1:] if alternatives is None else ranked[1 : 1 + alternatives]
            out.append(Suggestion(ranked[0][0], ranked[0][1], others))
        return out

    def top_terms(self, label: str, n: int = 10) -> list[tuple[str, float]]:
        """The analysed terms (stems, bigrams) that weigh most towards `label`."""
        features: TicketFeatures = self.estimator.named_steps["features"]
        classifier: LogisticRegression = self.estimator.named_steps["classifier"]
        labels = [str(c) for c in classifier.classes_]
        if label not in labels:
            return []
        coef = classifier.coef_
        # Binary logistic regression keeps one row, for the second class.
        row = (
            (coef[0] if labels.index(label) == 1 else -coef[0])
            if len(labels) == 2
            else coef[labels.index(label)]
        )
        names = features.body_.get_feature_names_out()
        weights = row[: len(names)]
        best = np.argsort(-weights)[:n]
        return [(str(names[i]), round(float(weights[i]), 4)) for i in best if weights[i] > 0]


def _measure(
    texts: list[str], labels: list[str], random_state: int
) -> tuple[float | None, float | None, int]:
    """Stratified cross-validated accuracy and macro-F1 on the categories that can be measured."""
    counts = Counter(labels)
    keep = [i for i, label in enumerate(labels) if counts[label] >= MIN_MEASURED]
    measured = {labels[i] for i in keep}
    if len(measured) < 2:
        return None, None, 0
    texts_m = [texts[i] for i in keep]
    labels_m = [labels[i] for i in keep]
    folds = min(CV_FOLDS, min(counts[label] for label in measured))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    predicted = cross_val_predict(
        build_estimator(len(texts_m), random_state), texts_m, labels_m, cv=cv
    )
    return (
        round(float(accuracy_score(labels_m, predicted)), 4),
        round(float(f1_score(labels_m, predicted, average="macro", zero_division=0)), 4),
        len(keep),
    )


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    random_state: int = 0,
    measure: bool = True,
) -> CategoryModel:
    """Learn the category suggestion from past tickets (`f"{title}\\n{body}"`, category).

    Measures accuracy and macro-F1 by stratified cross-validation first (skip with
    `measure=False`), then fits on every ticket. Raises a French `ValueError` when fewer than
    two categories remain.
    """
    if len(texts) != len(labels):
        raise ValueError("Autant de catégories que de tickets sont attendues.")
    pairs = [(t, str(label)) for t, label in zip(texts, labels, strict=True) if t and t.strip()]
    if len({label for _, label in pairs}) < 2:
        if not pairs and texts:
            raise ValueError(NO_TEXT_ERROR)
        raise ValueError(SINGLE_CLASS_ERROR)
    texts_ok = [t for t, _ in pairs]
    labels_ok = [label for _, label in pairs]
    if measure:
        accuracy, macro_f1, n_measured = _measure(texts_ok, labels_ok, random_state)
    else:
        accuracy = macro_f1 = None
        n_measured = 0
    estimator = build_estimator(len(texts_ok), random_state).fit(texts_ok, labels_ok)
    counts = Counter(labels_ok)
    return CategoryModel(
        estimator=estimator,
        classes=[str(c) for c in estimator.classes_],
        n_samples=len(texts_ok),
        trained_at=datetime.now(UTC),
        accuracy=accuracy,
        macro_f1=macro_f1,
        n_measured=n_measured,
        class_counts=dict(counts.most_common()),
    )


# --- persistence ------------------------------------------------------------------------------


def save(model: CategoryModel, path: str | Path) -> None:
    """Write the model with joblib (via a temporary file, so a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    joblib.dump({"version": model_version(), "model": model}, tmp)
    tmp.replace(path)


def load(path: str | Path) -> CategoryModel | None:
    """The saved model, or None (logged) when missing, unreadable or from another version.

    Only load files this application wrote: joblib files are pickles.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        payload = joblib.load(path)
    except Exception:
        logger.warning("Category model %s unreadable; retrain it.", path, exc_info=True)
        return None
    version = payload.get("version") if isinstance(payload, dict) else None
    model = payload.get("model") if isinstance(payload, dict) else None
    if version != model_version() or not isinstance(model, CategoryModel):
        logger.warning(
            "Category model %s has version %r, expected %r; retrain it.",
            path,
            version,
            model_version(),
        )
        return None
    return model
