"""French lexical analysis and the sparse (BM25-style) vectors built from it.

Words glued at a case change are split first ("duRGPD", "LaCommission": text extracted from
HTML or PDF often loses the space around emphasised words). Tokens are lower-cased, stop words
removed, stemmed with Snowball's French stemmer, then accent-folded, so "délibérations" and
"deliberation" meet. Each stem is hashed to a 31-bit index. Document vectors carry BM25's
saturated term frequency; Qdrant's IDF modifier supplies the inverse document frequency at
query time, so the index needs no global statistics.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from collections import Counter
from functools import lru_cache

import snowballstemmer
from stop_words import get_stop_words

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_ELISION = re.compile(r"^(?:[ldjmntsc]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
# A lower-case letter directly followed by a capital: two words whose space was lost (French
# words and acronyms do not change case inside). Camel-case names (« DansMaRue ») are split
# too, the same way in passages and questions, so they still match each other.
_CASE_CHANGE = re.compile(r"(?<=[a-zß-öø-ÿœ])(?=[A-ZÀ-ÖØ-ÞŒŸ])")

BM25_K1 = 1.2
BM25_B = 0.75
# Average passage length in tokens after stop words; chunks are 800-1,200 characters.
BM25_AVGDL = 110.0


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    words = set(get_stop_words("french"))
    return frozenset(words | {fold(w) for w in words})


_local = threading.local()


def _stemmer():
    # A Snowball stemmer keeps its word in its own state: one per thread (the web process
    # serves searches from several threads).
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("french")
    return stemmer


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    return fold(_stemmer().stemWord(token))


def fold(text: str) -> str:
    """Lower-case and strip accents."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def analyze(text: str) -> list[str]:
    """French analysis: glued words split → tokens → no stop words → Snowball stems → folded
    accents."""
    stop = _stopwords()
    tokens = []
    for match in _TOKEN.finditer(_CASE_CHANGE.sub(" ", text).lower()):
        token = _ELISION.sub("", match.group())
        if len(token) < 2 and not token.isdigit():
            continue
        if token in stop:
            continue
        tokens.append(token)
    return [s for s in map(_stem, tokens) if s]


def term_index(term: str) -> int:
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def _merge(counts: Counter[str]) -> dict[int, float]:
    merged: dict[int, float] = {}
    for term, count in counts.items():
        idx = term_index(term)
        merged[idx] = merged.get(idx, 0.0) + count
    return merged


def document_sparse(text: str, title: str = "", title_weight: int = 2) -> dict[str, list]:
    """Sparse vector of a passage: BM25 term-frequency saturation (IDF comes from Qdrant).

    Title and heading terms count `title_weight` times: they name what the passage is about.
    """
    counts = Counter(analyze(text))
    for term in analyze(title):
        counts[term] += title_weight
    length = sum(counts.values()) or 1
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / BM25_AVGDL)
    weights = {idx: tf * (BM25_K1 + 1) / (tf + norm) for idx, tf in _merge(counts).items()}
    indices = sorted(weights)
    return {"indices": indices, "values": [round(weights[i], 5) for i in indices]}


def query_sparse(text: str) -> dict[str, list]:
    """Sparse vector of a query: each distinct term once."""
    weights = {idx: 1.0 for idx in _merge(Counter(set(analyze(text))))}
    indices = sorted(weights)
    return {"indices": indices, "values": [weights[i] for i in indices]}


def highlight_terms(query: str) -> set[str]:
    """Stems of the query, to highlight matching words in snippets."""
    return set(analyze(query))


@lru_cache(maxsize=100_000)
def word_terms(word: str) -> frozenset[str]:
    """Stems of one word as the analyzer sees it (snippets test every word of a passage)."""
    return frozenset(analyze(word))
