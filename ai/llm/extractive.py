"""The `extractive` provider: no language model at all.

Answers are the best retrieved passages, highlighted, with their sources; that answering lives in
the pipelines, which check `provider.is_extractive` and never call `complete()` on this one.
"""

from __future__ import annotations

from ai.llm.base import LLMMessage, LLMProvider, LLMResult


class ExtractiveProvider(LLMProvider):
    """Marker provider: always available, no network, no model."""

    name = "extractive"
    model = ""
    streams = False
    is_extractive = True

    def complete(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResult:
        raise NotImplementedError(
            "the extractive provider generates no text: build the answer from the passages"
        )
