"""Indexing pipeline: passages in, dense and sparse vectors out (Haystack)."""

from __future__ import annotations

from functools import lru_cache

from haystack import Document, Pipeline

from ai.embedding import FrenchSparseDocumentEmbedder, UseDocumentEmbedder


@lru_cache(maxsize=1)
def build_embedding_pipeline() -> Pipeline:
    pipeline = Pipeline()
    # Sparse first: Haystack deep-copies every component's inputs, and copying 512 floats per
    # passage into the second component cost 7 % of the embedding time.
    pipeline.add_component("sparse", FrenchSparseDocumentEmbedder())
    pipeline.add_component("dense", UseDocumentEmbedder())
    pipeline.connect("sparse.documents", "dense.documents")
    return pipeline


def embed_passages(texts: list[str], contexts: list[str]) -> list[Document]:
    """Embed passages; `contexts` (title > headings) are embedded with them and weigh more
    in the sparse vector."""
    # An explicit id spares Haystack hashing each document (vectors included) on every copy.
    docs = [
        Document(id=str(i), content=text, meta={"context": context})
        for i, (text, context) in enumerate(zip(texts, contexts, strict=True))
    ]
    if not docs:
        return []
    return build_embedding_pipeline().run({"sparse": {"documents": docs}})["dense"]["documents"]
