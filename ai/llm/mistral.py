"""Mistral's API, or any server speaking it, through the official `mistralai` SDK.

Retries are the SDK's own (`RetryConfig` with exponential back-off, on 429/500/502/503/504 and
connection errors). That machinery bounds retries by elapsed time, not by count, so
`max_retries` is turned into the time the usual back-off needs for that many attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic

try:  # mistralai 2.x moved the client under `mistralai.client` (`mistralai` is a namespace).
    from mistralai.client import Mistral
    from mistralai.client.utils import BackoffStrategy, RetryConfig
except ImportError:  # mistralai 1.x
    from mistralai import Mistral
    from mistralai.utils import BackoffStrategy, RetryConfig

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

# The SDK's default back-off shape; each sleep also gets up to 1 s of random jitter.
_INITIAL_MS = 500
_EXPONENT = 1.5
_MAX_INTERVAL_MS = 8_000
_MEAN_JITTER_MS = 500


def retry_config(max_retries: int) -> RetryConfig | None:
    """The SDK retry configuration giving about `max_retries` retries (None: no retry)."""
    if max_retries <= 0:
        return None
    budget_ms = sum(
        min(_INITIAL_MS * _EXPONENT**attempt, _MAX_INTERVAL_MS) + _MEAN_JITTER_MS
        for attempt in range(max_retries)
    )
    return RetryConfig(
        "backoff",
        BackoffStrategy(_INITIAL_MS, _MAX_INTERVAL_MS, _EXPONENT, int(budget_ms)),
        retry_connection_errors=True,
    )


class MistralProvider(LLMProvider):
    """Chat completions from Mistral's API (`base_url` overrides the server, e.g. a proxy)."""

    name = "mistral"
    streams = True

    def __init__(
        self,
        *,
        model: str,
        api_key: str = "",
        base_url: str | None = None,
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
        self._client = Mistral(
            api_key=api_key or _no_key,
            server_url=self.base_url,
            timeout_ms=int(timeout_s * 1000),
            retry_config=retry_config(max_retries),
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
            response = self._client.chat.complete(
                **self._request(messages, temperature, max_tokens)
            )
            choice = response.choices[0]
            text = _text(choice.message.content)
        except ProviderError:
            raise
        except Exception as exc:
            raise _error(exc) from exc
        usage = response.usage
        return LLMResult(
            text=text,
            provider=self.name,
            model=response.model or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            latency_ms=clock.ms(),
        )

    def stream(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | LLMResult]:
        """Yield text deltas as Mistral sends them, then the final `LLMResult`."""
        clock = Stopwatch()
        parts: list[str] = []
        model = self.model
        prompt_tokens = completion_tokens = None
        finished = False
        try:
            events = self._client.chat.stream(**self._request(messages, temperature, max_tokens))
            with events:
                for event in events:
                    chunk = event.data
                    model = chunk.model or model
                    if chunk.usage is not None:
                        prompt_tokens = chunk.usage.prompt_tokens
                        completion_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices[:1]:
                        delta = _text(choice.delta.content)
                        if delta:
                            parts.append(delta)
                            yield delta
                        if choice.finish_reason:
                            finished = True
        except ProviderError:
            raise
        except Exception as exc:
            raise _error(exc, streaming=bool(parts)) from exc
        yield self._stream_result(parts, finished, model, prompt_tokens, completion_tokens, clock)


def _no_key() -> None:
    """The key of a keyless server (a local gateway).

    Passing None instead would make mistralai 2.x read $MISTRAL_API_KEY and send the city's
    Mistral key to whatever server this provider points at; a callable returning None sends no
    Authorization header at all, in 1.x and 2.x alike.
    """
    return None


def _text(content: Any) -> str:
    """The text of a message or delta: a string, or chunks of which only text ones count."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        # Reasoning models send "thinking" chunks beside the text: the agent sees the text only.
        return "".join(
            part.text for part in content if isinstance(getattr(part, "text", None), str)
        )
    return ""


def _error(exc: Exception, *, streaming: bool = False) -> ProviderError:
    """Translate an SDK or transport exception into a `ProviderError`."""
    detail = f"mistral: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(detail, user_message=MSG_TIMEOUT)
    if isinstance(exc, httpx.TransportError):
        return ProviderError(detail, user_message=MSG_INTERRUPTED if streaming else MSG_CONNECTION)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        body = str(getattr(exc, "body", "") or "")[:500]
        return ProviderError(
            f"mistral: HTTP {status}: {body or exc}",
            user_message=message_for_status(status),
            status_code=status,
        )
    if isinstance(status, int) or isinstance(
        exc, (pydantic.ValidationError, ValueError, LookupError, AttributeError)
    ):
        # A 2xx the SDK could not validate (ResponseValidationError), or no choices at all.
        return ProviderError(detail, user_message=MSG_BAD_ANSWER)
    logger.debug("Unexpected error from the Mistral SDK", exc_info=exc)
    return ProviderError(detail)
