"""Any OpenAI-compatible chat endpoint (Albert, vLLM, Ollama, OpenAI) through the `openai` SDK.

Retries are the SDK's own (`max_retries`, exponential back-off honouring `Retry-After`, on
408/409/429/5xx, timeouts and connection errors).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pydantic

from ai.llm.base import (
    MSG_BAD_ANSWER,
    MSG_CONNECTION,
    MSG_INTERRUPTED,
    MSG_TIMEOUT,
    LLMMessage,
    LLMProvider,
    LLMResult,
    ProviderError,
    Stopwatch,
    message_for_status,
)

logger = logging.getLogger(__name__)


class OpenAIProvider(LLMProvider):
    """Chat completions from an OpenAI-compatible server at `base_url` (ending in /v1)."""

    name = "openai"
    streams = True

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = "",
        timeout_s: float = 30,
        max_retries: int = 2,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.base_url = (base_url or "").rstrip("/") or None
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        # Cleared the first time the server rejects `stream_options` (older vLLM, some proxies).
        self.stream_usage = True
        # The SDK requires a key; local servers (Ollama, vLLM without --api-key) ignore it.
        # base_url=None means OpenAI itself; passing it explicitly keeps $OPENAI_BASE_URL out.
        self._client = openai.OpenAI(
            base_url=self.base_url or "https://api.openai.com/v1",
            api_key=api_key or "none",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def complete(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResult:
        """One chat completion; raise `ProviderError` on any failure."""
        clock = Stopwatch()
        try:
            response = self._client.chat.completions.create(
                **self._request(messages, temperature, max_tokens)
            )
            text = response.choices[0].message.content or ""
        except Exception as exc:
            raise _error(exc) from exc
        usage = response.usage
        return LLMResult(
            text=text,
            provider=self.name,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_ms=clock.ms(),
        )

    def _open_stream(self, request: dict[str, Any]) -> Any:
        if self.stream_usage:
            try:
                return self._client.chat.completions.create(
                    **request, stream=True, stream_options={"include_usage": True}
                )
            except openai.APIStatusError as exc:
                if exc.status_code != 400 or "stream_options" not in _body_text(exc):
                    raise
                logger.info(
                    "%s rejects stream_options: streaming without token counts", self.base_url
                )
                self.stream_usage = False
        return self._client.chat.completions.create(**request, stream=True)

    def stream(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | LLMResult]:
        """Yield text deltas as the server sends them, then the final `LLMResult`."""
        clock = Stopwatch()
        parts: list[str] = []
        model = self.model
        prompt_tokens = completion_tokens = None
        finished = False
        try:
            chunks = self._open_stream(self._request(messages, temperature, max_tokens))
            with chunks:
                for chunk in chunks:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        prompt_tokens = chunk.usage.prompt_tokens
                        completion_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices[:1]:
                        delta = choice.delta.content if choice.delta else None
                        if delta:
                            parts.append(delta)
                            yield delta
                        if choice.finish_reason:
                            finished = True
        except Exception as exc:
            raise _error(exc, streaming=bool(parts)) from exc
        yield self._stream_result(parts, finished, model, prompt_tokens, completion_tokens, clock)


def _body_text(exc: openai.APIStatusError) -> str:
    return f"{exc.message} {exc.body}"


def _error(exc: Exception, *, streaming: bool = False) -> ProviderError:
    """Translate an SDK or transport exception into a `ProviderError`."""
    detail = f"openai: {type(exc).__name__}: {exc}"
    # openai 2.x lets transport errors raised while reading a stream through unwrapped.
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return ProviderError(detail, user_message=MSG_TIMEOUT)
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return ProviderError(detail, user_message=MSG_INTERRUPTED if streaming else MSG_CONNECTION)
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(
            f"openai: HTTP {exc.status_code}: {_body_text(exc)[:500]}",
            user_message=message_for_status(exc.status_code),
            status_code=exc.status_code,
        )
    if isinstance(
        exc,
        (
            openai.APIResponseValidationError,
            pydantic.ValidationError,
            ValueError,
            LookupError,
            AttributeError,
        ),
    ):
        return ProviderError(detail, user_message=MSG_BAD_ANSWER)
    if isinstance(exc, openai.APIError):
        # An error event inside the stream, reported by the server itself.
        return ProviderError(detail, user_message=MSG_INTERRUPTED if streaming else MSG_BAD_ANSWER)
    logger.debug("Unexpected error from the OpenAI SDK", exc_info=exc)
    return ProviderError(detail)
