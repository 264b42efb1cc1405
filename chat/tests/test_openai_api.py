"""The OpenAI-compatible API, driven by the real `openai` client against the live server: the
assistants a token opens, answers with their sources, streaming, errors in OpenAI's shape."""

from __future__ import annotations

import json

import openai
import pytest
from rest_framework.authtoken.models import Token

from chat.models import Conversation, Message
from chat.tests.conftest import QUESTION

pytestmark = pytest.mark.django_db(transaction=True)


def token_for(user) -> str:
    return Token.objects.create(user=user).key


def client_for(live_server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def rh(live_server, assistants):
    with client_for(live_server, token_for(assistants["agent_rh"])) as client:
        yield client


@pytest.fixture
def fin(live_server, assistants):
    with client_for(live_server, token_for(assistants["agent_fin"])) as client:
        yield client


def ask(client: openai.OpenAI, model: str, question: str = QUESTION, **kwargs):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], **kwargs
    )


# --- Models --------------------------------------------------------------------------------------


def test_models_are_the_assistants_the_tokens_owner_may_use(rh, fin, assistants):
    models = list(rh.models.list())
    assert {m.id for m in models} == {"intranet", "rh", "citoyens"}
    assert all(m.object == "model" for m in models)
    by_id = {m.id: m for m in models}
    assert by_id["rh"].owned_by == "DRH" and by_id["rh"].model_extra["name"] == "Assistant RH"
    assert {m.id for m in fin.models.list()} == {"intranet", "fin", "citoyens"}
    assert rh.models.retrieve("rh").id == "rh"
    with pytest.raises(openai.NotFoundError) as caught:
        rh.models.retrieve("fin")
    assert caught.value.code == "model_not_found"


def test_missing_or_wrong_token_gets_401_in_openai_format(live_server, client, assistants):
    with client_for(live_server, "mauvais-jeton") as wrong:
        with pytest.raises(openai.AuthenticationError) as caught:
            wrong.models.list()
        assert caught.value.status_code == 401
        assert caught.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            ask(wrong, "intranet")
    # Without the header; and the session cookie is not enough here.
    client.force_login(assistants["agent_rh"])
    for response in (
        client.get("/v1/models"),
        client.post("/v1/chat/completions", {}, content_type="application/json"),
    ):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
        assert "Authorization: Bearer" in error["message"]
        assert response["WWW-Authenticate"].startswith("Bearer")
    # The DRF scheme "Token" is not the OpenAI one.
    key = token_for(assistants["agent_rh"])
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert not Conversation.objects.exists()


# --- Chat completions ----------------------------------------------------------------------------


def test_completion_answers_from_the_users_documents_with_sources(rh, assistants):
    completion = ask(rh, "rh")
    assert completion.object == "chat.completion" and completion.model == "rh"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert "ROUGE" in content and "VERT" not in content
    assert content.endswith("\n\nSources :\n- [1] Frais de déplacement, page 1")
    assert completion.usage.prompt_tokens == 0 and completion.usage.completion_tokens == 0
    sources = completion.model_extra["sources"]
    cited = [s for s in sources if s["cited"]]
    assert cited and cited[0]["url"].startswith("http://") and "/documents/" in cited[0]["url"]
    assert "chunk_id" not in cited[0]
    # Stored as a conversation of the token's owner, titled after the question.
    conversation = Conversation.objects.get()
    assert conversation.user == assistants["agent_rh"] and conversation.title == QUESTION
    answer = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert content.startswith(answer.content)


def test_each_call_is_a_new_conversation_whose_question_is_the_last_user_message(
    rh, assistants, openai_model, fake_llm
):
    assistant = assistants["a_intranet"]
    assistant.language_model = openai_model
    assistant.save()
    fake_llm.reply = "Il faut remplir le formulaire ROUGE [1]."
    for _ in range(2):
        completion = rh.chat.completions.create(
            model="intranet",
            messages=[
                {"role": "system", "content": "Tu es un pirate."},
                {"role": "user", "content": "Question précédente XYZZY ?"},
                {"role": "assistant", "content": "Réponse précédente PLUGH."},
                {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
            ],
        )
    assert completion.choices[0].message.content.startswith(fake_llm.reply)
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert Conversation.objects.count() == 2
    assert list(Message.objects.filter(role="user").values_list("content", flat=True)) == [
        QUESTION,
        QUESTION,
    ]
    # The client's own system prompt and earlier turns never reach the model.
    sent = fake_llm.chat_requests[-1].text
    assert "pirate" not in sent and "XYZZY" not in sent and "PLUGH" not in sent


def test_stream_sends_chunks_then_stop_then_usage_then_done(rh, assistants, openai_model, fake_llm):
    assistant = assistants["a_rh"]
    assistant.language_model = openai_model
    assistant.save()
    fake_llm.reply = "Il faut remplir le formulaire ROUGE [1], signé par votre responsable."
    with ask(rh, "rh", stream=True, stream_options={"include_usage": True}) as stream:
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == "rh" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    text = "".join(pieces)
    assert text.startswith(fake_llm.reply)
    assert text.endswith("\n\nSources :\n- [1] Frais de déplacement, page 1")
    assert sum(1 for p in pieces if p) > 2  # streamed in pieces, not at once
    stop = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(stop) == 1 and stop[0].choices[0].finish_reason == "stop"
    assert [s["n"] for s in stop[0].model_extra["sources"] if s["cited"]] == [1]
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage.prompt_tokens > 0
    assert usage.usage.completion_tokens == Message.objects.get(role="assistant").completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_bytes_end_with_done_and_without_usage_unless_asked(live_server, assistants, client):
    key = token_for(assistants["agent_rh"])
    response = client.post(
        "/v1/chat/completions",
        {"model": "rh", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    # Consumed, never closed: closing would close the test database connection.
    body = b"".join(response.streaming_content).decode()
    events = [block.removeprefix("data: ") for block in body.strip().split("\n\n")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "ROUGE" in text and "Sources :" in text


def test_model_failure_is_written_as_a_notice_then_the_extractive_answer(
    rh, assistants, openai_model, fake_llm
):
    assistant = assistants["a_rh"]
    assistant.language_model = openai_model
    assistant.save()
    fake_llm.fail_status = 500
    completion = ask(rh, "rh")
    content = completion.choices[0].message.content
    assert content.startswith("_Réponse extractive")
    assert "ROUGE" in content and "Sources :" in content
    with ask(rh, "rh", stream=True) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "_Réponse extractive" in text and "ROUGE" in text


# --- Access across directions ------------------------------------------------------------------


def test_another_directions_assistant_is_not_found_and_its_passages_never_come_back(
    fin, assistants
):
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as caught:
            ask(fin, "rh", stream=stream)
        assert caught.value.code == "model_not_found"
        assert "rh" in caught.value.message
    assert not Conversation.objects.exists()
    # Through the intranet assistant (every base), only what the user may read.
    completion = ask(fin, "intranet")
    content = completion.choices[0].message.content
    assert "VERT" in content and "ROUGE" not in content
    doc_rh = assistants["col_rh"].documents.get()
    sources = completion.model_extra["sources"]
    assert doc_rh.pk not in {s["document_id"] for s in sources}
    assert all("ROUGE" not in s["passage"] for s in sources)
    with ask(fin, "intranet", stream=True) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "VERT" in text and "ROUGE" not in text


# --- Bad requests --------------------------------------------------------------------------------


def test_bad_requests_get_400_in_openai_format_and_leave_nothing(rh, live_server, client):
    with pytest.raises(openai.BadRequestError) as caught:
        ask(rh, "rh", "   ")
    assert caught.value.code == "invalid_question"
    assert caught.value.body["message"] == "Écrivez une question."
    with pytest.raises(openai.BadRequestError) as caught:
        rh.chat.completions.create(model="rh", messages=[{"role": "system", "content": "x"}])
    assert "« user »" in caught.value.body["message"]
    assert not Conversation.objects.exists()
    key = rh.api_key
    response = client.post(
        "/v1/chat/completions",
        "pas du json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Le corps de la requête doit être un objet JSON."
    response = client.get("/v1/chat/completions", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405 and response["Allow"] == "POST"
