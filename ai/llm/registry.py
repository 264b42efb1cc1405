"""Which provider serves a language model: from a `LanguageModel` row or from the settings."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from ai.llm.base import MSG_CONFIG, LLMProvider, ProviderError
from ai.llm.extractive import ExtractiveProvider

if TYPE_CHECKING:
    from ai.models import LanguageModel

PROVIDERS = ("extractive", "mistral", "openai")


@dataclass(frozen=True)
class ProviderConfig:
    """Everything that makes two providers different; hashable, so built providers are reused."""

    provider: str
    model: str = ""
    base_url: str | None = None
    # Kept out of repr: a config must never print a key into a log line or a traceback.
    api_key: str = field(default="", repr=False)
    timeout_s: float = 30
    max_retries: int = 2
    temperature: float | None = None
    max_tokens: int | None = None


def config_from_settings() -> ProviderConfig:
    """The provider configured by `LLM_PROVIDER` and its MISTRAL_* / OPENAI_* settings."""
    name = (settings.LLM_PROVIDER or "extractive").strip().lower()
    common = {
        "timeout_s": float(getattr(settings, "LLM_TIMEOUT", 30)),
        "max_retries": int(getattr(settings, "LLM_MAX_RETRIES", 2)),
        "temperature": getattr(settings, "LLM_TEMPERATURE", None),
        "max_tokens": getattr(settings, "LLM_MAX_TOKENS", None),
    }
    if name == "mistral":
        return ProviderConfig(
            provider=name,
            model=settings.MISTRAL_MODEL,
            base_url=settings.MISTRAL_SERVER_URL,
            api_key=settings.MISTRAL_API_KEY or "",
            **common,
        )
    if name == "openai":
        return ProviderConfig(
            provider=name,
            model=settings.OPENAI_MODEL,
            base_url=settings.OPENAI_BASE_URL,
            api_key=settings.OPENAI_API_KEY or "",
            **common,
        )
    return ProviderConfig(provider=name)


def config_from_model(language_model: LanguageModel) -> ProviderConfig:
    """The provider configured by a `LanguageModel` row (its key decrypted)."""
    return ProviderConfig(
        provider=language_model.provider,
        model=language_model.model,
        base_url=language_model.base_url or None,
        api_key=language_model.get_api_key(),
        timeout_s=float(language_model.timeout_s),
        max_retries=language_model.max_retries,
        temperature=language_model.temperature,
        max_tokens=language_model.max_tokens,
    )


def get_provider(language_model: LanguageModel | None = None) -> LLMProvider:
    """The provider for `language_model`, or the one from the settings when it is None.

    Raises `ProviderError` (with a French `user_message`) when the configuration names an
    unknown provider or lacks what it needs.
    """
    if language_model is None:
        return build_provider(config_from_settings())
    return build_provider(config_from_model(language_model))


@functools.lru_cache(maxsize=32)
def build_provider(config: ProviderConfig) -> LLMProvider:
    """Build (once per distinct configuration) the provider for `config`.

    Cached because each SDK client holds an HTTP connection pool worth reusing; providers are
    stateless apart from it and safe to share between threads.
    """
    if config.provider == "extractive":
        return ExtractiveProvider()
    if config.provider not in PROVIDERS:
        raise ProviderError(f"unknown LLM provider {config.provider!r}", user_message=MSG_CONFIG)
    if not config.model:
        raise ProviderError(f"{config.provider}: no model name", user_message=MSG_CONFIG)
    kwargs = {
        "model": config.model,
        "base_url": config.base_url,
        "api_key": config.api_key,
        "timeout_s": config.timeout_s,
        "max_retries": config.max_retries,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    # Imported here: a city running the extractive default never loads either SDK.
    if config.provider == "mistral":
        from ai.llm.mistral import MistralProvider

        return MistralProvider(**kwargs)
    from ai.llm.openai_compat import OpenAIProvider

    return OpenAIProvider(**kwargs)
