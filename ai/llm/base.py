"""The one interface every language-model provider speaks.

Callers (assistants, summaries, extraction) build a list of `LLMMessage`, call `complete()` or
`stream()`, and only ever see `LLMResult` or `ProviderError`: SDK types and exceptions stay inside
the provider modules, so switching a city from Mistral's API to Albert or a local vLLM is a row in
the admin, not a code change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class LLMMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class LLMResult:
    text: str
    provider: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int = 0


class ProviderError(Exception):
    """Raised for any failure of an external provider (timeout, HTTP error, bad answer).

    `user_message` is a French sentence an agent can read; `str(exc)` carries the technical
    detail for the log.
    """

    default_user_message = "Le modèle de langage est indisponible pour le moment."

    def __init__(
        self,
        detail: str,
        *,
        user_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.user_message = user_message or self.default_user_message
        self.status_code = status_code


# French messages shared by the providers, so the same failure reads the same everywhere.
MSG_TIMEOUT = "Le modèle de langage n'a pas répondu à temps."
MSG_CONNECTION = "Le serveur du modèle de langage est injoignable."
MSG_AUTH = "Le serveur du modèle de langage a refusé la clé d'API (vérifiez la configuration)."
MSG_RATE_LIMIT = "Le modèle de langage reçoit trop de demandes ; réessayez dans un instant."
MSG_SERVER = "Le serveur du modèle de langage a rencontré une erreur."
MSG_BAD_REQUEST = "Le serveur du modèle de langage a refusé la demande."
MSG_BAD_ANSWER = "Le modèle de langage a renvoyé une réponse illisible."
MSG_INTERRUPTED = "La réponse du modèle de langage a été interrompue."
MSG_CONFIG = "Le modèle de langage n'est pas configuré correctement."


def message_for_status(status: int | None) -> str:
    """The French sentence for an HTTP status returned by a provider."""
    if status in (401, 403):
        return MSG_AUTH
    if status == 429:
        return MSG_RATE_LIMIT
    if status == 408 or status == 504:
        return MSG_TIMEOUT
    if status is not None and status >= 500:
        return MSG_SERVER
    return MSG_BAD_REQUEST


class LLMProvider:
    """A language model reachable through `complete()` and `stream()`.

    Subclasses set `name`, `model` and `streams`, and implement `complete()`; those that can
    stream override `stream()`.
    """

    name: str = ""
    model: str = ""
    streams: bool = False
    is_extractive: bool = False
    # Defaults of the configured model, overridden per call.
    temperature: float | None = None
    max_tokens: int | None = None

    def _request(
        self, messages: list[LLMMessage], temperature: float | None, max_tokens: int | None
    ) -> dict[str, Any]:
        """The chat-completion body both SDKs take (same field names)."""
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        if temperature is not None:
            request["temperature"] = temperature
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        return request

    def complete(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResult:
        """Send `messages` and return the whole answer; raise `ProviderError` on any failure."""
        raise NotImplementedError

    def stream(
        self,
        messages: list[LLMMessage],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | LLMResult]:
        """Yield text deltas as they arrive, then exactly one final `LLMResult`.

        This default suits providers that cannot stream: one delta with the whole text.
        """
        result = self.complete(messages, temperature=temperature, max_tokens=max_tokens)
        if result.text:
            yield result.text
        yield result

    def _stream_result(
        self,
        parts: list[str],
        finished: bool,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        clock: Stopwatch,
    ) -> LLMResult:
        """The final result of a stream, or ProviderError when the server closed the stream
        cleanly but never said the answer was complete."""
        if not finished:
            raise ProviderError(
                f"{self.name}: stream ended without finish_reason after {len(parts)} pieces",
                user_message=MSG_INTERRUPTED,
            )
        return LLMResult(
            text="".join(parts),
            provider=self.name,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=clock.ms(),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}:{self.model}>"


class Stopwatch:
    """Milliseconds since creation, for `LLMResult.latency_ms`."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000)
