"""The chat page (with and without streaming), conversations, feedback, the citizen portal."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from ai.models import LanguageModel
from chat.models import Conversation, Feedback, Message
from chat.tests.conftest import QUESTION

pytestmark = pytest.mark.django_db


def sse_events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    events = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_question_without_javascript_answers_and_shows_the_sources(client, assistants):
    client.force_login(assistants["agent_rh"])
    response = client.post("/assistants/rh/poser/", {"question": QUESTION})
    conversation = Conversation.objects.get(user=assistants["agent_rh"])
    assert response.status_code == 302
    assert response["Location"] == f"/assistants/rh/c/{conversation.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "ROUGE" in page and 'class="cite"' in page
    assert f"/documents/{assistants['col_rh'].documents.get().pk}/" in page
    assert "VERT" not in page


def test_streamed_answer_sends_deltas_then_the_rendered_message(client, assistants):
    client.force_login(assistants["agent_rh"])
    response = client.post(
        "/assistants/rh/poser/", {"question": QUESTION}, HTTP_ACCEPT="text/event-stream"
    )
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and "delta" in kinds and kinds[-1] == "done"
    done = events[-1][1]
    assert 'class="chat-msg chat-msg--assistant' in done["html"]
    assert done["conversation_url"].startswith("/assistants/rh/c/")


def test_empty_question_is_refused_with_a_french_message(client, assistants):
    client.force_login(assistants["agent_rh"])
    response = client.post(
        "/assistants/rh/poser/", {"question": "  "}, HTTP_ACCEPT="text/event-stream"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Écrivez une question."


def test_model_html_is_sanitised(client, assistants, fake_llm):
    model = LanguageModel.objects.create(
        name="M", provider="openai", base_url=fake_llm.openai_url, model="m", max_retries=0
    )
    assistant = assistants["a_rh"]
    assistant.language_model = model
    assistant.pseudonymize = False
    assistant.save()
    fake_llm.reply = 'Formulaire ROUGE [1] <script>alert("x")</script><img src=x onerror=alert(1)>'
    client.force_login(assistants["agent_rh"])
    client.post("/assistants/rh/poser/", {"question": QUESTION})
    conversation = Conversation.objects.get(user=assistants["agent_rh"])
    page = client.get(f"/assistants/rh/c/{conversation.pk}/").content.decode()
    assert "Formulaire ROUGE" in page
    assert "<script>alert" not in page and "onerror" not in page


def test_conversations_are_private(client, assistants):
    client.force_login(assistants["agent_rh"])
    client.post("/assistants/intranet/poser/", {"question": QUESTION})
    conversation = Conversation.objects.get(user=assistants["agent_rh"])
    answer = conversation.messages.get(role=Message.Role.ASSISTANT)

    client.force_login(assistants["agent_fin"])
    assert client.get(f"/assistants/intranet/c/{conversation.pk}/").status_code == 404
    other = client.post(
        "/assistants/intranet/poser/", {"question": "suite", "conversation": conversation.pk}
    )
    assert other.status_code == 404
    assert (
        client.post(f"/assistants/messages/{answer.pk}/avis/", {"helpful": "1"}).status_code == 404
    )
    assert client.post(f"/assistants/messages/{answer.pk}/regenerer/").status_code == 404
    assert client.post(f"/assistants/conversations/{conversation.pk}/supprimer/").status_code == 404
    assert conversation.messages.count() == 2


def test_feedback_regenerate_and_delete(client, assistants):
    client.force_login(assistants["agent_rh"])
    client.post("/assistants/rh/poser/", {"question": QUESTION})
    conversation = Conversation.objects.get(user=assistants["agent_rh"])
    answer = conversation.messages.get(role=Message.Role.ASSISTANT)
    response = client.post(
        f"/assistants/messages/{answer.pk}/avis/",
        {"helpful": "0", "comment": "Il manque le délai."},
        HTTP_ACCEPT="application/json",
    )
    assert response.json() == {"ok": True, "helpful": False}
    assert Feedback.objects.get(message=answer).comment == "Il manque le délai."

    client.post(f"/assistants/messages/{answer.pk}/regenerer/")
    assert conversation.messages.filter(role=Message.Role.ASSISTANT).count() == 2
    assert conversation.messages.filter(role=Message.Role.USER).count() == 1

    client.post(f"/assistants/conversations/{conversation.pk}/supprimer/")
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


def test_citizen_portal_is_anonymous_and_public_only(client, assistants, django_user_model):
    page = client.get("/citoyens/citoyens/")
    assert page.status_code == 200 and "Citoyens" in page.content.decode()
    assert client.get("/citoyens/rh/").status_code == 404  # an agents' assistant is not public

    response = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": "Combien coûte un repas à la cantine ?"}),
        content_type="application/json",
    )
    events = sse_events(response)
    done = events[-1][1]
    assert "3,20" in done["text"] and done["token"]
    follow = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": QUESTION, "token": done["token"]}),
        content_type="application/json",
    )
    text = sse_events(follow)[-1][1]["text"]
    assert "ROUGE" not in text and "VERT" not in text
    conversation = Conversation.objects.get(session_key=done["token"])
    assert conversation.user is None and conversation.messages.count() == 4


def test_logged_in_agent_on_the_public_page_stays_anonymous(client, assistants):
    client.force_login(assistants["agent_rh"])
    response = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": QUESTION}),
        content_type="application/json",
    )
    done = sse_events(response)[-1][1]
    assert "ROUGE" not in done["text"]
    assert Conversation.objects.get(session_key=done["token"]).user is None


def test_citizen_questions_are_rate_limited(client, assistants, settings):
    settings.CHAT_PUBLIC_RATE = 2
    cache.clear()
    for _ in range(2):
        ok = client.post(
            "/citoyens/citoyens/poser/",
            json.dumps({"question": "cantine"}),
            content_type="application/json",
        )
        assert ok.status_code == 200
        b"".join(ok.streaming_content)
    refused = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": "cantine"}),
        content_type="application/json",
    )
    assert refused.status_code == 429
    assert "patientez" in refused.json()["error"]


def test_widget_can_be_framed_and_its_script_is_served(client, assistants):
    frame = client.get("/widget/citoyens/")
    assert frame.status_code == 200
    assert "X-Frame-Options" not in frame
    assert "frame-ancestors" in frame["Content-Security-Policy"]
    script = client.get("/widget.js")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/widget/" in script.content.decode()
    assert client.get("/widget/rh/").status_code == 404


def test_citizen_conversations_are_erased_after_the_visit(client, assistants):
    from datetime import timedelta

    from django.utils import timezone

    from chat.services import purge_public_conversations

    response = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": "Combien coûte un repas à la cantine ?"}),
        content_type="application/json",
    )
    token = sse_events(response)[-1][1]["token"]
    conversation = Conversation.objects.get(session_key=token)
    agent_conv = Conversation.objects.create(
        assistant=assistants["a_rh"], user=assistants["agent_rh"]
    )
    assert purge_public_conversations() == 0  # the visit may still go on
    later = timezone.now() + timedelta(hours=3)
    assert purge_public_conversations(now=later) == 1
    conversation.refresh_from_db()
    assert conversation.session_key == "" and conversation.title == ""
    assert not conversation.messages.exclude(content="").exists()
    # The figures stay for the statistics; agents' conversations are untouched.
    assert conversation.messages.filter(role="assistant").exclude(outcome="").exists()
    assert Conversation.objects.filter(pk=agent_conv.pk).exists()
    again = client.post(
        "/citoyens/citoyens/poser/",
        json.dumps({"question": "cantine", "token": token}),
        content_type="application/json",
    )
    assert sse_events(again)[-1][1]["token"] != token  # the old token opens nothing


def test_website_assistant_answers_from_the_crawled_city_site(client, org, site):
    """The public website's widget: an assistant indexed from the city's site (website
    source crawled from a local server) answers anonymous visitors from it."""
    from ai import services as ai_services
    from ai.index_sync import sync_pending
    from ai.models import Collection, Source
    from chat.models import Assistant
    from core.models import Visibility

    collection = Collection.objects.create(
        name="Site de la ville", slug="site", direction=org["rh"], visibility=Visibility.PUBLIC
    )
    source = ai_services.create_source(
        user=org["admin_rh"],
        collection=collection,
        name="www",
        kind=Source.Kind.WEBSITE,
        config={"start_urls": [site.base + "/"], "delay_s": 0},
    )
    ai_services.start_run(source, user=org["admin_rh"], inline=True)
    sync_pending()
    assistant = Assistant.objects.create(
        name="Site internet",
        slug="site",
        kind=Assistant.Kind.WEBSITE,
        direction=org["rh"],
        audience=Assistant.Audience.PUBLIC,
    )
    assistant.collections.set([collection])

    assert client.get("/widget/site/").status_code == 200
    response = client.post(
        "/citoyens/site/poser/",
        json.dumps({"question": "Quels sont les horaires d'ouverture de la mairie ?"}),
        content_type="application/json",
    )
    done = sse_events(response)[-1][1]
    assert "8 h 30" in done["text"]
    assert any(s["url"].startswith("/documents/") for s in done["sources"] if s["cited"])


def test_citizen_endpoint_refuses_odd_bodies_in_french(client, assistants):
    for body in ("[1, 2]", '"texte"', "{pas du json", ""):
        response = client.post("/citoyens/citoyens/poser/", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"] == "Écrivez une question."
