"""Indexing: passages in, dense and sparse vectors out (Haystack components)."""

from __future__ import annotations

from functools import lru_cache

from haystack import Document, Pipeline

from ai.embedding import FrenchSparseDocumentEmbedder, UseDocumentEmbedder


@lru_cache(maxsize=1)
def build_embedding_pipeline() -> Pipeline:
    """The indexing pipeline as a Haystack graph (for inspection, drawing, serialisation)."""
    pipeline = Pipeline()
    pipeline.add_component("sparse", FrenchSparseDocumentEmbedder())
    pipeline.add_component("dense", UseDocumentEmbedder())
    pipeline.connect("sparse.documents", "dense.documents")
    return pipeline


def embed_passages(texts: list[str], contexts: list[str]) -> list[Document]:
    """Embed passages; `contexts` (title > headings) are embedded with them and weigh more
    in the sparse vector.

    The pipeline's two components are run in order directly: `Pipeline.run` deep-copies every
    component's input, which cost 3 % of an ingestion run (bench/ingest.py) for a graph that
    is a straight line."""
    # An explicit id spares Haystack hashing each document (vectors included) on every copy.
    docs = [
        Document(id=str(i), content=text, meta={"context": context})
        for i, (text, context) in enumerate(zip(texts, contexts, strict=True))
    ]
    if not docs:
        return []
    pipeline = build_embedding_pipeline()
    for name in ("sparse", "dense"):
        docs = pipeline.get_component(name).run(documents=docs)["documents"]
    return docs
