"""The assistants' REST API: audience and ownership (404 otherwise), answers with sources, the
event stream, feedback, token authentication, the API token command and the OpenAPI schema."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from rest_framework.authtoken.models import Token

from chat import services
from chat.models import Conversation, Feedback, Message
from chat.tests.conftest import QUESTION
from core.models import AuditEvent

pytestmark = pytest.mark.django_db

API = "/api/v1/assistants/"
ASSISTANT_FIELDS = {"slug", "name", "description", "kind", "greeting", "suggested_questions"}


@pytest.fixture
def rh_client(client, assistants):
    client.force_login(assistants["agent_rh"])
    return client


def new_conversation(client, slug: str) -> int:
    response = client.post(
        f"{API}conversations/", {"assistant": slug}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def post_question(client, conversation_id: int, question: str = QUESTION, **extra):
    return client.post(
        f"{API}conversations/{conversation_id}/messages/",
        {"question": question},
        content_type="application/json",
        **extra,
    )


def sse_events(response) -> list[tuple[str, dict]]:
    """The events of a streamed answer. The body is consumed, never `.close()`d: closing the
    response would close the test database connection."""
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def issue_token(email: str) -> str:
    out = io.StringIO()
    call_command("api_token", email, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


# --- Assistants -----------------------------------------------------------------------------------


def test_assistants_are_those_of_the_users_audience_without_their_configuration(
    rh_client, assistants
):
    a_rh = assistants["a_rh"]
    a_rh.system_prompt = "CONSIGNE SECRETE"
    a_rh.greeting = "Bonjour, je réponds sur les frais."
    a_rh.suggested_questions = ["Comment me faire rembourser ?"]
    a_rh.save()
    listed = rh_client.get(API).json()["results"]
    assert {a["slug"] for a in listed} == {"intranet", "rh", "citoyens"}
    assert all(set(a) == ASSISTANT_FIELDS for a in listed)
    detail = rh_client.get(f"{API}rh/")
    assert detail.status_code == 200
    assert detail.json() == {
        "slug": "rh",
        "name": "Assistant RH",
        "description": "",
        "kind": "direction",
        "greeting": "Bonjour, je réponds sur les frais.",
        "suggested_questions": ["Comment me faire rembourser ?"],
    }
    assert "CONSIGNE SECRETE" not in detail.content.decode()
    # Another direction's assistant does not exist for this user.
    assert rh_client.get(f"{API}fin/").status_code == 404
    assert rh_client.get(f"{API}inconnu/").status_code == 404


def test_inactive_assistant_is_gone(rh_client, assistants):
    assistants["a_rh"].is_active = False
    assistants["a_rh"].save()
    assert rh_client.get(f"{API}rh/").status_code == 404
    assert "rh" not in {a["slug"] for a in rh_client.get(API).json()["results"]}


# --- Conversations and answers ----------------------------------------------------------------


def test_conversation_question_answer_feedback_and_deletion(rh_client, assistants):
    conversation_id = new_conversation(rh_client, "rh")
    response = post_question(rh_client, conversation_id)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["role"] == "assistant" and answer["conversation"] == conversation_id
    assert "ROUGE" in answer["content"] and "VERT" not in answer["content"]
    assert answer["outcome"] == "answered"
    assert answer["provider"] == "extractive" and answer["model"] == ""
    assert answer["latency_ms"] is not None
    assert answer["prompt_tokens"] is None and answer["completion_tokens"] is None
    cited = [s for s in answer["sources"] if s["cited"]]
    assert cited and cited[0]["url"].startswith(f"/documents/{cited[0]['document_id']}/")
    assert "chunk_id" not in cited[0]
    assert answer["feedback"] is None

    listed = rh_client.get(f"{API}conversations/").json()["results"]
    assert [(c["id"], c["assistant"], c["title"]) for c in listed] == [
        (conversation_id, "rh", QUESTION)
    ]
    assert rh_client.get(f"{API}conversations/", {"assistant": "intranet"}).json()["count"] == 0
    assert rh_client.get(f"{API}conversations/", {"assistant": "fin"}).status_code == 404

    detail = rh_client.get(f"{API}conversations/{conversation_id}/").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][0]["content"] == QUESTION

    url = f"{API}messages/{answer['id']}/feedback/"
    body = {"helpful": False, "comment": "Il manque le délai."}
    response = rh_client.post(url, body, content_type="application/json")
    assert response.status_code == 200 and response.json() == body
    feedback = Feedback.objects.get(message_id=answer["id"])
    assert (feedback.helpful, feedback.comment, feedback.user) == (
        False,
        "Il manque le délai.",
        assistants["agent_rh"],
    )
    detail = rh_client.get(f"{API}conversations/{conversation_id}/").json()
    assert detail["messages"][1]["feedback"] == body
    question_id = detail["messages"][0]["id"]
    response = rh_client.post(
        f"{API}messages/{question_id}/feedback/", {"helpful": True}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Seules les réponses peuvent recevoir un avis."}

    assert rh_client.delete(f"{API}conversations/{conversation_id}/").status_code == 204
    assert rh_client.get(f"{API}conversations/{conversation_id}/").status_code == 404
    assert not Message.objects.filter(conversation_id=conversation_id).exists()


def test_another_agents_conversation_and_another_directions_assistant_are_404(client, assistants):
    client.force_login(assistants["agent_rh"])
    own = new_conversation(client, "rh")
    answer_id = post_question(client, own).json()["id"]
    intranet = new_conversation(client, "intranet")

    client.force_login(assistants["agent_fin"])
    assert (
        client.post(
            f"{API}conversations/", {"assistant": "rh"}, content_type="application/json"
        ).status_code
        == 404
    )
    for conversation_id in (own, intranet):
        assert client.get(f"{API}conversations/{conversation_id}/").status_code == 404
        assert post_question(client, conversation_id).status_code == 404
        assert client.delete(f"{API}conversations/{conversation_id}/").status_code == 404
    response = client.post(
        f"{API}messages/{answer_id}/feedback/", {"helpful": False}, content_type="application/json"
    )
    assert response.status_code == 404
    assert client.get(f"{API}conversations/").json()["count"] == 0
    assert Conversation.objects.filter(pk__in=[own, intranet]).count() == 2
    assert not Feedback.objects.exists()
    assert Message.objects.filter(conversation_id=intranet).count() == 0


def test_conversation_with_an_assistant_no_longer_open_is_404(rh_client, assistants):
    conversation_id = new_conversation(rh_client, "rh")
    assistants["a_rh"].audience_directions.set([assistants["fin"]])
    assert rh_client.get(f"{API}conversations/{conversation_id}/").status_code == 404
    assert post_question(rh_client, conversation_id).status_code == 404
    assert rh_client.get(f"{API}conversations/").json()["count"] == 0


def test_intranet_answer_never_carries_another_directions_passages(client, assistants):
    doc_rh = assistants["col_rh"].documents.get()
    for agent, own, other in (("agent_rh", "ROUGE", "VERT"), ("agent_fin", "VERT", "ROUGE")):
        client.force_login(assistants[agent])
        answer = post_question(client, new_conversation(client, "intranet")).json()
        assert own in answer["content"] and other not in answer["content"]
        assert all(other not in s["passage"] for s in answer["sources"])
        if agent == "agent_fin":
            assert doc_rh.pk not in {s["document_id"] for s in answer["sources"]}


def test_invalid_questions_get_400_with_a_french_message(rh_client):
    conversation_id = new_conversation(rh_client, "rh")
    response = post_question(rh_client, conversation_id, "   ")
    assert response.status_code == 400
    assert response.json() == {"detail": "Écrivez une question."}
    response = post_question(rh_client, conversation_id, "x" * (services.MAX_QUESTION_CHARS + 1))
    assert response.status_code == 400
    assert "trop longue" in response.json()["detail"]
    # Asked for a stream, the refusal is still JSON, before any stream starts.
    response = post_question(rh_client, conversation_id, "", HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Écrivez une question."}
    response = rh_client.post(
        f"{API}conversations/{conversation_id}/messages/", {}, content_type="application/json"
    )
    assert response.status_code == 400 and "question" in response.json()
    assert not Message.objects.filter(conversation_id=conversation_id).exists()


# --- Server-sent events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", [{"path": "?stream=1"}, {"path": "", "HTTP_ACCEPT": "text/event-stream"}]
)
def test_stream_delivers_sources_then_deltas_then_done(rh_client, how):
    conversation_id = new_conversation(rh_client, "rh")
    extra = {k: v for k, v in how.items() if k != "path"}
    response = rh_client.post(
        f"{API}conversations/{conversation_id}/messages/{how['path']}",
        {"question": QUESTION},
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    events = sse_events(response)
    types = [t for t, _ in events]
    assert types[0] == "sources" and types[-1] == "done" and "delta" in types
    done = events[-1][1]
    message = Message.objects.get(pk=done["message_id"])
    text = "".join(d["text"] for t, d in events if t == "delta")
    assert text == message.content and "ROUGE" in text
    assert done["outcome"] == "answered"
    assert done["sources"] == message.sources
    assert done["message"]["id"] == message.pk and done["message"]["content"] == message.content


def test_stream_of_a_model_answer_comes_in_pieces(rh_client, assistants, openai_model, fake_llm):
    assistant = assistants["a_rh"]
    assistant.language_model = openai_model
    assistant.save()
    fake_llm.reply = "Il faut remplir le formulaire ROUGE [1], signé par votre responsable."
    conversation_id = new_conversation(rh_client, "rh")
    events = sse_events(
        rh_client.post(
            f"{API}conversations/{conversation_id}/messages/?stream=1",
            {"question": QUESTION},
            content_type="application/json",
        )
    )
    deltas = [d["text"] for t, d in events if t == "delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == fake_llm.reply
    done = events[-1]
    assert done[0] == "done"
    assert done[1]["message"]["provider"] == "openai"
    assert done[1]["message"]["model"] == "modele-test"
    assert done[1]["message"]["prompt_tokens"] > 0
    assert [s["n"] for s in done[1]["sources"] if s["cited"]] == [1]

    # Not streamed: the same figures in the JSON answer.
    answer = post_question(rh_client, conversation_id).json()
    assert answer["provider"] == "openai" and answer["completion_tokens"] > 0


def test_model_failure_is_announced_in_the_stream(rh_client, assistants, openai_model, fake_llm):
    assistant = assistants["a_rh"]
    assistant.language_model = openai_model
    assistant.save()
    fake_llm.fail_status = 500
    conversation_id = new_conversation(rh_client, "rh")
    events = sse_events(post_question(rh_client, conversation_id, HTTP_ACCEPT="text/event-stream"))
    notice = [d for t, d in events if t == "notice"]
    assert notice and notice[0]["text"].startswith("Réponse extractive")
    assert events[-1][1]["outcome"] == "fallback"
    assert "ROUGE" in "".join(d["text"] for t, d in events if t == "delta")


# --- Authentication -----------------------------------------------------------------------------


def test_token_and_bearer_keys_authenticate_and_wrong_ones_get_401(client, assistants):
    key = issue_token(assistants["agent_rh"].email)
    assert Token.objects.get(user=assistants["agent_rh"]).key == key
    for scheme in ("Token", "Bearer"):
        response = client.get(API, HTTP_AUTHORIZATION=f"{scheme} {key}")
        assert response.status_code == 200, scheme
        assert {a["slug"] for a in response.json()["results"]} == {"intranet", "rh", "citoyens"}
    # A token opens exactly its owner's rights.
    assert client.get(f"{API}fin/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 404
    response = client.post(
        f"{API}conversations/",
        {"assistant": "rh"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201  # no CSRF token needed with a key
    conversation_id = response.json()["id"]
    answer = post_question(client, conversation_id, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 201 and "ROUGE" in answer.json()["content"]

    response = client.get(API, HTTP_AUTHORIZATION="Bearer mauvais-jeton")
    assert response.status_code == 401
    assert response.json() == {"detail": "Mauvais jeton d'identification."}
    response = client.get(API)
    assert response.status_code == 401
    assert response.json() == {"detail": "Informations d'authentification non fournies."}
    assert response["WWW-Authenticate"] == "Token"


def test_api_token_command_rotates_and_revokes(client, assistants):
    agent = assistants["agent_rh"]
    first = issue_token(agent.email.upper())
    second = issue_token(agent.email)
    assert first != second and len(second) == 40
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {first}").status_code == 401
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {second}").status_code == 200
    out = io.StringIO()
    call_command("api_token", agent.email, "--revoke", stdout=out)
    assert "révoqué" in out.getvalue()
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {second}").status_code == 401
    assert list(
        AuditEvent.objects.filter(object_type="core.User", object_id=str(agent.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["api.token_issued", "api.token_issued", "api.token_revoked"]
    with pytest.raises(CommandError, match="Aucun compte"):
        call_command("api_token", "personne@ville.example")
    agent.is_active = False
    agent.save()
    with pytest.raises(CommandError, match="désactivé"):
        call_command("api_token", agent.email)


def test_inactive_agents_token_stops_working(client, assistants):
    agent = assistants["agent_rh"]
    key = issue_token(agent.email)
    agent.is_active = False
    agent.save()
    assert client.get(API, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


# --- OpenAPI schema ------------------------------------------------------------------------------


def test_schema_documents_the_endpoints_and_validates_without_warnings(tmp_path, rh_client):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 "--file", str(target))  # fmt: skip
    schema = json.loads(target.read_text())
    paths = schema["paths"]
    for path in (
        "/api/v1/assistants/",
        "/api/v1/assistants/{slug}/",
        "/api/v1/assistants/conversations/",
        "/api/v1/assistants/conversations/{id}/",
        "/api/v1/assistants/conversations/{id}/messages/",
        "/api/v1/assistants/messages/{id}/feedback/",
    ):
        assert path in paths, path
    post = paths["/api/v1/assistants/conversations/{id}/messages/"]["post"]
    assert "text/event-stream" in post["responses"]["200"]["content"]
    assert {"tokenAuth", "bearerAuth"} <= set(schema["components"]["securitySchemes"])
    assistant = schema["components"]["schemas"]["Assistant"]["properties"]
    assert set(assistant) == ASSISTANT_FIELDS
    # Served to agents as well.
    served = rh_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/assistants/" in served["paths"]
