"""Indexing pipeline: passages in, dense and sparse vectors out (Haystack)."""

from __future__ import annotations

from functools import lru_cache

from haystack import Document, Pipeline

from ai.embedding import FrenchSparseDocumentEmbedder, UseDocumentEmbedder


@lru_cache(maxsize=1)
def build_embedding_pipeline() -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("dense", UseDocumentEmbedder())
    pipeline.add_component("sparse", FrenchSparseDocumentEmbedder())
    pipeline.connect("dense.documents", "sparse.documents")
    return pipeline


def embed_passages(texts: list[str], contexts: list[str]) -> list[Document]:
    """Embed passages; `contexts` (title > headings) are embedded with them and weigh more
    in the sparse vector."""
    docs = [
        Document(content=text, meta={"context": context})
        for text, context in zip(texts, contexts, strict=True)
    ]
    if not docs:
        return []
    return build_embedding_pipeline().run({"dense": {"documents": docs}})["sparse"]["documents"]
