"""Language-model providers, through the real `mistralai` and `openai` clients and a fake server."""

from __future__ import annotations

import logging
from decimal import Decimal

import openai
import pytest
from django.core.exceptions import ValidationError

from ai.llm import ExtractiveProvider, LLMMessage, LLMProvider, LLMResult, ProviderError
from ai.llm import base as llm_base
from ai.llm.mistral import MistralProvider
from ai.llm.openai_compat import OpenAIProvider
from ai.llm.registry import get_provider
from ai.models import LanguageModel
from ai.tests.fake_llm import DEFAULT_REPLY, FakeLLMServer

MESSAGES = [
    LLMMessage("system", "Tu réponds en français, en citant tes sources."),
    LLMMessage("user", "Quels sont les horaires de la piscine municipale ?"),
]
PROMPT_WORDS = sum(len(m.content.split()) for m in MESSAGES)  # the fake counts words

PROVIDERS = ["mistral", "openai"]


def make_provider(kind: str, server: FakeLLMServer, **overrides) -> LLMProvider:
    options = {"api_key": "sk-test-123", "timeout_s": 2, "max_retries": 2}
    options.update(overrides)
    if kind == "mistral":
        return MistralProvider(model="mistral-small-latest", base_url=server.url, **options)
    return OpenAIProvider(model="albert-large", base_url=server.openai_url, **options)


def collect(stream) -> tuple[list[str], list[LLMResult]]:
    deltas, results = [], []
    for item in stream:
        (results if isinstance(item, LLMResult) else deltas).append(item)
    return deltas, results


# --- complete and stream -------------------------------------------------------------------
@pytest.mark.parametrize("kind", PROVIDERS)
def test_complete_returns_text_tokens_and_sends_the_request(kind, fake_llm):
    provider = make_provider(kind, fake_llm, temperature=0.2, max_tokens=300)

    result = provider.complete(MESSAGES)

    assert result.text == DEFAULT_REPLY
    assert result.provider == kind
    assert result.model == provider.model
    assert result.prompt_tokens == PROMPT_WORDS
    assert result.completion_tokens == len(fake_llm._pieces(DEFAULT_REPLY))
    assert result.latency_ms >= 0
    sent = fake_llm.last
    assert sent.path == "/v1/chat/completions"
    assert sent.flavour == kind
    assert sent.body["model"] == provider.model
    assert sent.messages == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert sent.body["temperature"] == 0.2
    assert sent.body["max_tokens"] == 300
    assert not sent.body.get("stream")


@pytest.mark.parametrize("kind", PROVIDERS)
def test_call_arguments_override_the_provider_defaults(kind, fake_llm):
    provider = make_provider(kind, fake_llm, temperature=0.2, max_tokens=300)

    provider.complete(MESSAGES, temperature=0.0, max_tokens=50)

    assert fake_llm.last.body["temperature"] == 0.0
    assert fake_llm.last.body["max_tokens"] == 50


@pytest.mark.parametrize("kind", PROVIDERS)
def test_reply_can_depend_on_the_request(kind, fake_llm):
    fake_llm.reply = lambda body: f"Selon [1], réponse à « {body['messages'][-1]['content']} »"

    result = make_provider(kind, fake_llm).complete(MESSAGES)

    assert result.text == f"Selon [1], réponse à « {MESSAGES[-1].content} »"


@pytest.mark.parametrize("kind", PROVIDERS)
def test_stream_yields_several_deltas_then_one_result(kind, fake_llm):
    provider = make_provider(kind, fake_llm)
    assert provider.streams

    items = list(provider.stream(MESSAGES))

    deltas, results = items[:-1], items[-1]
    assert all(isinstance(d, str) for d in deltas)
    assert len(deltas) >= 3
    assert "".join(deltas) == DEFAULT_REPLY
    assert isinstance(results, LLMResult)
    assert results.text == DEFAULT_REPLY
    assert results.provider == kind
    assert results.prompt_tokens == PROMPT_WORDS
    assert results.completion_tokens == len(deltas)
    assert fake_llm.last.body["stream"] is True


def test_openai_stream_asks_for_usage(fake_llm):
    list(make_provider("openai", fake_llm).stream(MESSAGES))

    assert fake_llm.last.body["stream_options"] == {"include_usage": True}


def test_openai_stream_falls_back_when_the_server_rejects_stream_options(fake_llm):
    fake_llm.reject_stream_options = True
    provider = make_provider("openai", fake_llm)

    deltas, [result] = collect(provider.stream(MESSAGES))

    assert "".join(deltas) == DEFAULT_REPLY
    assert result.prompt_tokens is None  # the server reports none without stream_options
    assert ["stream_options" in r.body for r in fake_llm.chat_requests] == [True, False]
    # Remembered: the next stream goes straight to the plain request.
    list(provider.stream(MESSAGES))
    assert "stream_options" not in fake_llm.last.body
    assert len(fake_llm.chat_requests) == 3


def test_default_stream_of_a_non_streaming_provider_yields_text_then_result():
    class Echo(LLMProvider):
        name = "echo"
        model = "echo-1"

        def complete(self, messages, *, temperature=None, max_tokens=None):
            return LLMResult(text=messages[-1].content, provider=self.name, model=self.model)

    items = list(Echo().stream(MESSAGES))

    assert items[0] == MESSAGES[-1].content
    assert isinstance(items[1], LLMResult)
    assert items[1].text == MESSAGES[-1].content
    assert len(items) == 2


# --- failures ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_transient_500_is_retried_by_the_sdk(kind, fake_llm):
    fake_llm.fail_status = 500
    fake_llm.fail_times = 1

    result = make_provider(kind, fake_llm).complete(MESSAGES)

    assert result.text == DEFAULT_REPLY
    assert len(fake_llm.chat_requests) == 2


@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_transient_429_before_a_stream_is_retried(kind, fake_llm):
    fake_llm.fail_status = 429
    fake_llm.fail_times = 1

    deltas, [result] = collect(make_provider(kind, fake_llm).stream(MESSAGES))

    assert "".join(deltas) == result.text == DEFAULT_REPLY
    assert len(fake_llm.chat_requests) == 2


@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_persistent_500_becomes_a_provider_error(kind, fake_llm):
    fake_llm.fail_status = 500
    # Mistral's SDK bounds retries by time, not count: no retry keeps this test exact and fast.
    provider = make_provider(kind, fake_llm, max_retries=0 if kind == "mistral" else 1)

    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES)

    assert caught.value.user_message == llm_base.MSG_SERVER
    assert caught.value.status_code == 500
    assert "500" in str(caught.value)
    assert len(fake_llm.chat_requests) == (1 if kind == "mistral" else 2)


def test_mistral_retries_a_persistent_500_within_its_time_budget(fake_llm):
    fake_llm.fail_status = 500

    with pytest.raises(ProviderError) as caught:
        make_provider("mistral", fake_llm, max_retries=1).complete(MESSAGES)

    assert caught.value.user_message == llm_base.MSG_SERVER
    assert len(fake_llm.chat_requests) >= 2


@pytest.mark.parametrize("kind", PROVIDERS)
@pytest.mark.parametrize(
    ("status", "message"),
    [(401, llm_base.MSG_AUTH), (400, llm_base.MSG_BAD_REQUEST)],
)
def test_client_errors_are_not_retried(kind, status, message, fake_llm):
    fake_llm.fail_status = status

    with pytest.raises(ProviderError) as caught:
        make_provider(kind, fake_llm).complete(MESSAGES)

    assert caught.value.user_message == message
    assert caught.value.status_code == status
    assert len(fake_llm.chat_requests) == 1


@pytest.mark.parametrize("kind", PROVIDERS)
def test_persistent_rate_limit_reads_as_such(kind, fake_llm):
    fake_llm.fail_status = 429

    with pytest.raises(ProviderError) as caught:
        make_provider(kind, fake_llm, max_retries=0).complete(MESSAGES)

    assert caught.value.user_message == llm_base.MSG_RATE_LIMIT


@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_server_slower_than_the_timeout_becomes_a_provider_error(kind, fake_llm):
    fake_llm.delay_s = 3
    provider = make_provider(kind, fake_llm, timeout_s=0.5, max_retries=0)

    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES)

    assert caught.value.user_message == "Le modèle de langage n'a pas répondu à temps."


@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_stream_stalling_past_the_timeout_becomes_a_provider_error(kind, fake_llm):
    fake_llm.piece_delay_s = 3
    provider = make_provider(kind, fake_llm, timeout_s=0.5, max_retries=0)
    received = []

    with pytest.raises(ProviderError) as caught:
        for item in provider.stream(MESSAGES):
            received.append(item)

    assert caught.value.user_message == llm_base.MSG_TIMEOUT
    assert received  # the first piece arrived before the stall


@pytest.mark.parametrize("kind", PROVIDERS)
def test_a_connection_dropped_mid_stream_becomes_a_provider_error(kind, fake_llm):
    fake_llm.drop_mid_stream = True
    received = []

    with pytest.raises(ProviderError) as caught:
        for item in make_provider(kind, fake_llm).stream(MESSAGES):
            received.append(item)

    assert caught.value.user_message == llm_base.MSG_INTERRUPTED
    assert len(received) == 1
    assert DEFAULT_REPLY.startswith(received[0])


@pytest.mark.parametrize("kind", PROVIDERS)
def test_an_unreachable_server_becomes_a_provider_error(kind):
    server = FakeLLMServer().start()
    server_url, openai_url = server.url, server.openai_url
    server.stop()  # nothing listens on that port any more
    if kind == "mistral":
        provider = MistralProvider(model="m", base_url=server_url, timeout_s=1, max_retries=0)
    else:
        provider = OpenAIProvider(model="m", base_url=openai_url, timeout_s=1, max_retries=0)

    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES)

    assert caught.value.user_message == llm_base.MSG_CONNECTION


def test_provider_error_carries_french_for_the_agent_and_detail_for_the_log():
    error = ProviderError("HTTP 503 from upstream")

    assert str(error) == "HTTP 503 from upstream"
    assert error.user_message == "Le modèle de langage est indisponible pour le moment."


# --- keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", PROVIDERS)
def test_the_api_key_is_sent_as_a_bearer_token(kind, fake_llm):
    make_provider(kind, fake_llm, api_key="sk-secret-xyz").complete(MESSAGES)

    assert fake_llm.last.authorization == "Bearer sk-secret-xyz"


def test_mistral_without_key_does_not_fall_back_to_the_environment(fake_llm, monkeypatch):
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-city-wide-key")

    make_provider("mistral", fake_llm, api_key="").complete(MESSAGES)

    assert fake_llm.last.authorization == ""


def test_the_api_key_is_stored_encrypted(db):
    lm = LanguageModel(name="Mistral Small (API)", provider="mistral", model="mistral-small")
    lm.set_api_key("sk-plain-secret-42")
    lm.save()

    stored = LanguageModel.objects.values_list("api_key_encrypted", flat=True).get(pk=lm.pk)
    assert stored
    assert "sk-plain-secret-42" not in stored
    fresh = LanguageModel.objects.get(pk=lm.pk)
    assert fresh.has_api_key
    assert fresh.get_api_key() == "sk-plain-secret-42"


def test_an_undecryptable_key_reads_as_empty_with_a_warning(db, settings, caplog):
    lm = LanguageModel(name="Albert", provider="openai", base_url="http://x/v1", model="m")
    lm.set_api_key("sk-plain")
    lm.save()
    settings.AI_SECRET_KEY = "a-brand-new-key"

    with caplog.at_level(logging.WARNING, logger="ai.models"):
        assert LanguageModel.objects.get(pk=lm.pk).get_api_key() == ""

    assert "Albert" in caplog.text
    assert "sk-plain" not in caplog.text


def test_the_key_survives_a_rotation_kept_in_fallbacks(db, settings):
    settings.AI_SECRET_KEY = "old-key"
    lm = LanguageModel.objects.create(name="Albert", provider="openai", base_url="http://x/v1")
    lm.set_api_key("sk-plain")
    lm.save()
    settings.AI_SECRET_KEY = "new-key"
    settings.AI_SECRET_KEY_FALLBACKS = ["old-key"]

    assert LanguageModel.objects.get(pk=lm.pk).get_api_key() == "sk-plain"


def test_an_empty_key_removes_it(db):
    lm = LanguageModel(name="Ollama", provider="openai", base_url="http://ollama:11434/v1")
    lm.set_api_key("sk-plain")
    lm.set_api_key("")

    assert not lm.has_api_key
    assert lm.get_api_key() == ""


# --- the model row -------------------------------------------------------------------------
def test_an_openai_compatible_model_needs_a_server_address(db):
    lm = LanguageModel(name="Albert", provider="openai", model="albert-large")

    with pytest.raises(ValidationError) as caught:
        lm.full_clean()

    assert "base_url" in caught.value.message_dict


def test_a_container_host_name_is_a_valid_server_address(db):
    lm = LanguageModel(
        name="vLLM", provider="openai", model="mistral-7b", base_url="http://vllm:8000/v1"
    )

    lm.full_clean()


def test_cost_estimate_uses_the_prices_per_million_tokens(db):
    lm = LanguageModel(
        name="Mistral",
        provider="mistral",
        model="m",
        input_cost_per_mtok=Decimal("0.10"),
        output_cost_per_mtok=Decimal("0.30"),
    )

    assert lm.estimate_cost(2_000, 500) == Decimal("0.00035")
    assert lm.estimate_cost(None, None) == 0
    assert str(lm) == "Mistral"


# --- registry ------------------------------------------------------------------------------
def test_registry_defaults_to_the_extractive_provider(settings):
    settings.LLM_PROVIDER = "extractive"

    provider = get_provider(None)

    assert isinstance(provider, ExtractiveProvider)
    assert provider.is_extractive
    assert provider.name == "extractive"
    assert provider.model == ""
    assert not provider.streams


def test_registry_builds_mistral_from_settings(settings, fake_llm):
    settings.LLM_PROVIDER = "mistral"
    settings.MISTRAL_SERVER_URL = fake_llm.url
    settings.MISTRAL_API_KEY = "sk-from-settings"
    settings.MISTRAL_MODEL = "mistral-small-latest"
    settings.LLM_TIMEOUT = 1

    provider = get_provider(None)
    result = provider.complete(MESSAGES)

    assert isinstance(provider, MistralProvider)
    assert not provider.is_extractive
    assert result.text == DEFAULT_REPLY
    assert fake_llm.last.authorization == "Bearer sk-from-settings"
    assert fake_llm.last.body["model"] == "mistral-small-latest"
    assert get_provider(None) is provider  # one SDK client per configuration


def test_registry_builds_openai_from_settings(settings, fake_llm):
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = fake_llm.openai_url
    settings.OPENAI_API_KEY = None
    settings.OPENAI_MODEL = "llama3"

    provider = get_provider(None)
    provider.complete(MESSAGES)

    assert isinstance(provider, OpenAIProvider)
    assert fake_llm.last.body["model"] == "llama3"
    assert fake_llm.last.body["temperature"] == settings.LLM_TEMPERATURE
    assert fake_llm.last.body["max_tokens"] == settings.LLM_MAX_TOKENS


@pytest.mark.parametrize(
    ("provider", "model"),
    [("gpt-maison", "m"), ("openai", "")],
)
def test_registry_refuses_an_incomplete_configuration(settings, provider, model):
    settings.LLM_PROVIDER = provider
    settings.OPENAI_MODEL = model

    with pytest.raises(ProviderError) as caught:
        get_provider(None)

    assert caught.value.user_message == llm_base.MSG_CONFIG


def test_registry_builds_from_a_language_model_row(db, fake_llm):
    lm = LanguageModel(
        name="Albert (Etalab)",
        provider="openai",
        base_url=fake_llm.openai_url,
        model="albert-large",
        timeout_s=5,
        max_retries=0,
        temperature=0.1,
        max_tokens=120,
    )
    lm.set_api_key("sk-row-key")
    lm.save()

    provider = get_provider(LanguageModel.objects.get(pk=lm.pk))
    deltas, [result] = collect(provider.stream(MESSAGES))

    assert isinstance(provider, OpenAIProvider)
    assert provider.max_retries == 0
    assert "".join(deltas) == result.text == DEFAULT_REPLY
    sent = fake_llm.last
    assert sent.authorization == "Bearer sk-row-key"
    assert sent.body["model"] == "albert-large"
    assert sent.body["temperature"] == 0.1
    assert sent.body["max_tokens"] == 120


def test_registry_builds_mistral_from_a_row_with_a_server_override(db, fake_llm):
    lm = LanguageModel.objects.create(
        name="Mistral (passerelle)", provider="mistral", base_url=fake_llm.url, model="m-small"
    )

    result = get_provider(lm).complete(MESSAGES)

    assert result.provider == "mistral"
    assert result.text == DEFAULT_REPLY
    assert fake_llm.last.flavour == "mistral"


def test_registry_gives_the_extractive_marker_for_an_extractive_row(db):
    lm = LanguageModel.objects.create(name="Sans modèle", provider="extractive")

    assert get_provider(lm).is_extractive


# --- the fake server itself ----------------------------------------------------------------
def test_fake_server_lists_models_in_the_openai_format(fake_llm):
    fake_llm.models = ["albert-large", "albert-small"]
    client = openai.OpenAI(base_url=fake_llm.openai_url, api_key="k", max_retries=0)

    assert [m.id for m in client.models.list()] == ["albert-large", "albert-small"]


def test_fake_server_counts_down_failures_and_resets(fake_llm):
    fake_llm.fail_status = 503
    fake_llm.fail_times = 2
    provider = make_provider("openai", fake_llm, max_retries=0)

    for _ in range(2):
        with pytest.raises(ProviderError):
            provider.complete(MESSAGES)
    assert provider.complete(MESSAGES).text == DEFAULT_REPLY

    fake_llm.reset()
    assert fake_llm.requests == []
    assert fake_llm.fail_status is None
    assert fake_llm.models == ["fake-model"]
