"""Language-model providers behind one interface (`LLMProvider`), chosen per assistant.

`get_provider(language_model)` returns the provider for a `LanguageModel` row, or the one the
settings configure (`LLM_PROVIDER`) when given None. Callers only handle `LLMResult` and
`ProviderError`; SDK types never leave the provider modules.
"""

from ai.llm.base import LLMMessage, LLMProvider, LLMResult, ProviderError
from ai.llm.extractive import ExtractiveProvider
from ai.llm.registry import get_provider

__all__ = [
    "ExtractiveProvider",
    "LLMMessage",
    "LLMProvider",
    "LLMResult",
    "ProviderError",
    "get_provider",
]
