"""The assistants' administration console: access, assistant settings, language models, stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ai.models import Collection, LanguageModel
from chat.models import Assistant, Conversation, Message
from core import audit
from core.models import AuditEvent, User, Visibility
from core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-tres-secret-0123456789"


@pytest.fixture
def console(org):
    """`org` (two directions, their agents, AI administrators and private bases) plus a public
    base and an internal one, an assistant per direction and a language model."""
    org["col_pub"] = Collection.objects.create(
        name="Délibérations publiques", slug="delib", direction=org["rh"], visibility="public"
    )
    org["col_internal_fin"] = Collection.objects.create(
        name="Guide interne des achats",
        slug="guide-achats",
        direction=org["fin"],
        visibility=Visibility.INTERNAL,
    )
    org["a_rh"] = Assistant.objects.create(
        name="Assistant RH",
        slug="rh",
        direction=org["rh"],
        kind=Assistant.Kind.DIRECTION,
        audience=Assistant.Audience.DIRECTIONS,
    )
    org["a_rh"].audience_directions.set([org["rh"]])
    org["a_rh"].collections.set([org["col_rh"]])
    org["a_fin"] = Assistant.objects.create(
        name="Assistant Finances", slug="fin", direction=org["fin"]
    )
    org["a_fin"].collections.set([org["col_fin"]])
    org["model"] = LanguageModel.objects.create(
        name="Albert", provider="openai", base_url="http://albert.local/v1", model="albert"
    )
    return org


def form_data(org, **overrides) -> dict:
    """A valid assistant form for the RH direction; an override set to None drops the field."""
    data = {
        "name": "Assistant congés",
        "slug": "conges",
        "kind": "direction",
        "description": "Congés et absences.",
        "direction": org["rh"].pk,
        "audience": "directions",
        "audience_directions": [org["rh"].pk],
        "collections": [org["col_rh"].pk],
        "language_model": "",
        "system_prompt": "",
        "greeting": "Bonjour, posez votre question sur les congés.",
        "suggested_questions": "Comment poser un congé ?\r\n\r\n   Qui valide mes congés ?  \r\n",
        "pseudonymize": "on",
        "top_k": "4",
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def model_data(**overrides) -> dict:
    data = {
        "name": "Mistral Small",
        "provider": "mistral",
        "base_url": "",
        "model": "mistral-small-latest",
        "timeout_s": "20",
        "max_retries": "1",
        "temperature": "0.2",
        "max_tokens": "800",
        "input_cost_per_mtok": "0.1",
        "output_cost_per_mtok": "0.3",
        "is_active": "on",
        "api_key": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def errors(response) -> dict:
    return response.context["form"].errors


# --- Access ------------------------------------------------------------------------------------


def test_agents_and_dsi_technicians_get_403_everywhere(client, console):
    technician = UserFactory(roles=["agent", "technicien DSI"], directions=[console["rh"]])
    a, m = console["a_rh"].pk, console["model"].pk
    gets = [
        reverse("chat:console"),
        reverse("chat:assistant_create"),
        reverse("chat:assistant_edit", args=[a]),
        reverse("chat:assistant_stats", args=[a]),
        reverse("chat:models"),
        reverse("chat:model_create"),
        reverse("chat:model_edit", args=[m]),
    ]
    posts = [
        reverse("chat:assistant_create"),
        reverse("chat:assistant_edit", args=[a]),
        reverse("chat:model_create"),
        reverse("chat:model_edit", args=[m]),
        reverse("chat:model_test", args=[m]),
    ]
    for user in (console["agent_rh"], technician):
        client.force_login(user)
        for url in gets:
            assert client.get(url).status_code == 403, (user, url)
        for url in posts:
            assert client.post(url, form_data(console)).status_code == 403, (user, url)
    assert AuditEvent.objects.filter(action=audit.PERMISSION_DENIED).count() == 2 * (
        len(gets) + len(posts)
    )
    assert Assistant.objects.count() == 2
    assert LanguageModel.objects.count() == 1
    assert not AuditEvent.objects.filter(action="chat.assistant_change").exists()


def test_the_console_lists_only_the_assistants_of_ones_directions(client, console):
    conversation = Conversation.objects.create(assistant=console["a_rh"])
    for _ in range(3):
        Message.objects.create(conversation=conversation, role="user", content="Question ?")
    client.force_login(console["admin_rh"])
    response = client.get(reverse("chat:console"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Assistant RH" in page and "Assistant Finances" not in page
    assert reverse("chat:assistant_stats", args=[console["a_rh"].pk]) in page
    assert reverse("chat:assistant_create") in page
    assert reverse("chat:models") in page
    row = response.context["rows"][0]
    assert row["questions"] == 3
    assert row["assistant"].collection_count == 1


def test_an_admin_cannot_open_nor_edit_another_directions_assistant(client, console):
    a_rh = console["a_rh"]
    client.force_login(console["admin_fin"])
    assert client.get(reverse("chat:assistant_edit", args=[a_rh.pk])).status_code == 404
    assert client.get(reverse("chat:assistant_stats", args=[a_rh.pk])).status_code == 404
    response = client.post(
        reverse("chat:assistant_edit", args=[a_rh.pk]),
        form_data(console, name="Piraté", slug="rh", direction=console["fin"].pk),
    )
    assert response.status_code == 404
    a_rh.refresh_from_db()
    assert a_rh.name == "Assistant RH" and a_rh.direction == console["rh"]
    assert not AuditEvent.objects.filter(action="chat.assistant_change").exists()


def test_an_admin_cannot_attach_another_directions_private_base(client, console):
    client.force_login(console["admin_rh"])
    page = client.get(reverse("chat:assistant_create")).content.decode()
    assert "Base RH" in page
    assert "Guide interne des achats" in page  # internal: every agent may read it
    assert "Base Finances" not in page

    response = client.post(
        reverse("chat:assistant_create"),
        form_data(console, collections=[console["col_rh"].pk, console["col_fin"].pk]),
    )
    assert response.status_code == 200
    assert "collections" in errors(response)
    assert not Assistant.objects.filter(slug="conges").exists()

    a_rh = console["a_rh"]
    response = client.post(
        reverse("chat:assistant_edit", args=[a_rh.pk]),
        form_data(console, name="Assistant RH", slug="rh", collections=[console["col_fin"].pk]),
    )
    assert "collections" in errors(response)
    assert list(a_rh.collections.all()) == [console["col_rh"]]


def test_the_managing_direction_is_one_of_the_admins_directions(client, console):
    client.force_login(console["admin_rh"])
    response = client.post(
        reverse("chat:assistant_create"), form_data(console, direction=console["fin"].pk)
    )
    assert "direction" in errors(response)
    assert list(response.context["form"].fields["direction"].queryset) == [console["rh"]]
    assert not Assistant.objects.filter(slug="conges").exists()


def test_a_public_assistant_only_uses_public_bases(client, console):
    client.force_login(console["admin_rh"])
    for private in ("col_rh", "col_internal_fin"):
        response = client.post(
            reverse("chat:assistant_create"),
            form_data(
                console,
                audience="public",
                collections=[console["col_pub"].pk, console[private].pk],
            ),
        )
        assert response.status_code == 200
        message = errors(response)["collections"][0]
        assert message.startswith("Un assistant public (sans connexion) ne peut utiliser que")
        assert console[private].name in message
        # The error sits next to the field, and is summed up at the top of the form.
        page = response.content.decode()
        assert 'id="id_collections_error"' in page and 'role="alert"' in page
    assert not Assistant.objects.filter(slug="conges").exists()

    response = client.post(
        reverse("chat:assistant_create"),
        form_data(console, audience="public", collections=[console["col_pub"].pk]),
    )
    assert response.status_code == 302
    created = Assistant.objects.get(slug="conges")
    assert created.is_public and list(created.collections.all()) == [console["col_pub"]]

    # Opening an existing assistant to the public is refused the same way.
    a_rh = console["a_rh"]
    response = client.post(
        reverse("chat:assistant_edit", args=[a_rh.pk]),
        form_data(console, name="Assistant RH", slug="rh", audience="public"),
    )
    assert "collections" in errors(response)
    a_rh.refresh_from_db()
    assert a_rh.audience == Assistant.Audience.DIRECTIONS


def test_bases_the_admin_cannot_read_stay_attached_and_count_for_the_public_rule(client, console):
    a_rh = console["a_rh"]
    a_rh.collections.add(console["col_fin"])  # attached by someone who may read it
    client.force_login(console["admin_rh"])
    page = client.get(reverse("chat:assistant_edit", args=[a_rh.pk])).content.decode()
    assert "Base Finances" not in page
    assert "1 autre(s) base(s) déjà rattachée(s)" in page

    response = client.post(
        reverse("chat:assistant_edit", args=[a_rh.pk]),
        form_data(console, name="Assistant RH", slug="rh", collections=[console["col_rh"].pk]),
    )
    assert response.status_code == 302
    assert set(a_rh.collections.all()) == {console["col_rh"], console["col_fin"]}

    response = client.post(
        reverse("chat:assistant_edit", args=[a_rh.pk]),
        form_data(console, name="Assistant RH", slug="rh", audience="public", collections=[]),
    )
    message = errors(response)["collections"][0]
    assert "une base que vous ne pouvez pas consulter" in message
    assert "Base Finances" not in response.content.decode()


def test_create_and_edit_round_trip_is_audited(client, console):
    admin = console["admin_rh"]
    client.force_login(admin)
    page = client.get(reverse("chat:assistant_create")).content.decode()
    # The default instructions are shown as the placeholder of the empty system prompt.
    assert f"Tu es l&#x27;assistant de {settings.CITY_NAME}" in page
    assert '<label for="id_name">' in page and "<legend>Public visé" in page

    response = client.post(
        reverse("chat:assistant_create"),
        form_data(
            console,
            language_model=console["model"].pk,
            audience_directions=[console["rh"].pk, console["fin"].pk],
            collections=[console["col_rh"].pk, console["col_pub"].pk],
        ),
    )
    assistant = Assistant.objects.get(slug="conges")
    assert response.status_code == 302
    assert response["Location"] == reverse("chat:assistant_edit", args=[assistant.pk])
    assert assistant.name == "Assistant congés"
    assert assistant.direction == console["rh"]
    assert assistant.kind == Assistant.Kind.DIRECTION
    assert assistant.language_model == console["model"]
    assert assistant.suggested_questions == ["Comment poser un congé ?", "Qui valide mes congés ?"]
    assert assistant.top_k == 4
    assert assistant.pseudonymize and not assistant.use_procedures and assistant.is_active
    assert set(assistant.audience_directions.all()) == {console["rh"], console["fin"]}
    assert set(assistant.collections.all()) == {console["col_rh"], console["col_pub"]}
    event = AuditEvent.objects.get(action="chat.assistant_change")
    assert event.actor == admin
    assert event.object_id == str(assistant.pk)
    assert event.direction_id == console["rh"].pk
    assert event.details["created"] is True
    assert event.details["changed"]["collections"] == sorted(
        [console["col_rh"].pk, console["col_pub"].pk]
    )

    response = client.get(reverse("chat:assistant_edit", args=[assistant.pk]))
    page = response.content.decode()
    assert "Comment poser un congé ?\nQui valide mes congés ?</textarea>" in page
    assert "L&#x27;assistant « Assistant congés » est créé." in page

    response = client.post(
        reverse("chat:assistant_edit", args=[assistant.pk]),
        form_data(
            console,
            language_model=console["model"].pk,
            audience_directions=[console["rh"].pk, console["fin"].pk],
            collections=[console["col_rh"].pk],
            greeting="Bienvenue !",
            top_k="6",
            pseudonymize=None,
        ),
    )
    assert response.status_code == 302
    assistant.refresh_from_db()
    assert (assistant.greeting, assistant.top_k, assistant.pseudonymize) == (
        "Bienvenue !",
        6,
        False,
    )
    assert list(assistant.collections.all()) == [console["col_rh"]]
    event = AuditEvent.objects.filter(action="chat.assistant_change").latest("pk")
    assert event.details["created"] is False
    assert event.details["changed"] == {
        "collections": [console["col_rh"].pk],
        "greeting": "Bienvenue !",
        "pseudonymize": False,
        "top_k": 6,
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"top_k": "0"}, "top_k"),
        ({"top_k": "11"}, "top_k"),
        ({"audience_directions": None}, "audience_directions"),
        ({"audience": "groups"}, "audience_groups"),
        ({"suggested_questions": "\n".join(f"Question {i} ?" for i in range(11))}, None),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_settings_are_refused_next_to_their_field(client, console, overrides, field):
    client.force_login(console["admin_rh"])
    response = client.post(reverse("chat:assistant_create"), form_data(console, **overrides))
    assert response.status_code == 200
    assert (field or "suggested_questions") in errors(response)
    assert f'id="id_{field or "suggested_questions"}' in response.content.decode()
    assert not Assistant.objects.filter(slug="conges").exists()


def test_only_active_language_models_are_offered(client, console):
    LanguageModel.objects.create(
        name="Ancien modèle", provider="mistral", model="x", is_active=False
    )
    client.force_login(console["admin_rh"])
    page = client.get(reverse("chat:assistant_create")).content.decode()
    assert "Albert" in page and "Ancien modèle" not in page
    assert "Aucun : réponses extractives (sans modèle)" in page


# --- Language models ---------------------------------------------------------------------------


def test_the_api_key_is_write_only_and_stored_encrypted(client, console):
    admin = console["admin_fin"]  # language models are global: any AI administrator
    client.force_login(admin)
    response = client.post(reverse("chat:model_create"), model_data(api_key=SECRET))
    model = LanguageModel.objects.get(name="Mistral Small")
    assert response.status_code == 302
    assert model.has_api_key
    assert SECRET not in model.api_key_encrypted
    assert model.get_api_key() == SECRET

    pages = [
        client.get(reverse("chat:model_edit", args=[model.pk])),
        client.get(reverse("chat:models")),
    ]
    # A failed submission re-renders the form: the key typed in is not sent back either.
    failed = client.post(
        reverse("chat:model_edit", args=[model.pk]),
        model_data(provider="openai", base_url="", api_key="sk-autre-cle-secrete"),
    )
    assert failed.status_code == 200
    assert errors(failed)["base_url"] == ["Indiquez l'adresse du serveur compatible OpenAI."]
    pages.append(failed)
    for response in pages:
        html = response.content.decode()
        assert SECRET not in html and "sk-autre-cle-secrete" not in html
        assert model.api_key_encrypted not in html
        assert "clé enregistrée" in html
    model.refresh_from_db()
    assert model.get_api_key() == SECRET and model.provider == "mistral"

    # An empty field keeps the key.
    response = client.post(
        reverse("chat:model_edit", args=[model.pk]), model_data(name="Mistral Small 3")
    )
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.name == "Mistral Small 3" and model.get_api_key() == SECRET

    # A new one replaces it.
    client.post(reverse("chat:model_edit", args=[model.pk]), model_data(api_key="sk-nouvelle"))
    model.refresh_from_db()
    assert model.get_api_key() == "sk-nouvelle"

    # The box removes it.
    client.post(reverse("chat:model_edit", args=[model.pk]), model_data(clear_api_key="on"))
    model.refresh_from_db()
    assert not model.has_api_key
    assert "aucune clé" in client.get(reverse("chat:model_edit", args=[model.pk])).content.decode()

    events = AuditEvent.objects.filter(action="ai.language_model_change").order_by("pk")
    assert [e.details["api_key"] for e in events] == ["saisie", "inchangée", "saisie", "supprimée"]
    for event in AuditEvent.objects.all():
        assert SECRET not in str(event.details) and "sk-nouvelle" not in str(event.details)


def test_a_new_key_and_its_removal_together_are_refused(client, console):
    model = console["model"]
    model.set_api_key(SECRET)
    model.save()
    client.force_login(console["admin_rh"])
    response = client.post(
        reverse("chat:model_edit", args=[model.pk]),
        model_data(
            provider="openai", base_url=model.base_url, api_key="sk-autre", clear_api_key="on"
        ),
    )
    assert "clear_api_key" in errors(response)
    model.refresh_from_db()
    assert model.get_api_key() == SECRET


def test_the_test_button_answers_through_the_fake_server(client, console, fake_llm):
    fake_llm.reply = "OK"
    model = LanguageModel.objects.create(
        name="Local", provider="openai", base_url=fake_llm.openai_url, model="m", timeout_s=5
    )
    model.set_api_key(SECRET)
    model.save()
    client.force_login(console["admin_rh"])
    assert client.get(reverse("chat:model_test", args=[model.pk])).status_code == 405

    response = client.post(reverse("chat:model_test", args=[model.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("chat:model_edit", args=[model.pk])
    page = response.content.decode()
    assert "Le modèle répond : « OK »" in page
    sent = fake_llm.chat_requests[-1]
    assert sent.body["messages"] == [{"role": "user", "content": "Réponds OK."}]
    assert sent.body["max_tokens"] == 5
    assert sent.authorization == f"Bearer {SECRET}"
    assert SECRET not in page
    event = AuditEvent.objects.get(action=audit.MODEL_CALL)
    assert event.details["purpose"] == "test" and event.details["outcome"] == "answered"
    assert event.actor == console["admin_rh"]


def test_the_test_button_shows_the_providers_french_error(client, console, fake_llm):
    fake_llm.fail_status = 500
    model = LanguageModel.objects.create(
        name="Local",
        provider="openai",
        base_url=fake_llm.openai_url,
        model="m",
        timeout_s=5,
        max_retries=0,
    )
    client.force_login(console["admin_rh"])
    response = client.post(reverse("chat:model_test", args=[model.pk]), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Échec du test : Le serveur du modèle de langage a rencontré une erreur." in page
    assert "message--error" in page
    assert len(fake_llm.chat_requests) == 1
    event = AuditEvent.objects.get(action=audit.MODEL_CALL)
    assert event.details["outcome"] == "error"


def test_the_language_models_page_lists_every_model(client, console):
    console["a_rh"].language_model = console["model"]
    console["a_rh"].save()
    client.force_login(console["admin_fin"])
    response = client.get(reverse("chat:models"))
    page = response.content.decode()
    assert "Albert" in page and "aucune clé" in page
    assert reverse("chat:model_test", args=[console["model"].pk]) in page
    assert response.context["models"][0].assistant_count == 1


# --- Statistics --------------------------------------------------------------------------------


def test_the_stats_page_shows_chart_table_and_unknown_questions(client, console):
    conversation = Conversation.objects.create(assistant=console["a_rh"])
    Message.objects.create(conversation=conversation, role="user", content="Où est le badge ?")
    answer = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Je ne sais pas.",
        outcome="unknown",
        provider="extractive",
        latency_ms=120,
    )
    old = Message.objects.create(conversation=conversation, role="user", content="Vieille")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=20))
    client.force_login(console["admin_rh"])

    response = client.get(reverse("chat:assistant_stats", args=[console["a_rh"].pk]))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["days"] == 30 and figures["questions"] == 2
    page = response.content.decode()
    assert '<svg viewBox="0 0 960 204" role="img"' in page
    assert page.count('class="chart__bar"') == 30
    assert "<table" in page and "Données du graphique" in page
    assert "Où est le badge ?" in page
    assert answer.created_at.strftime("%d/%m/%Y") in page
    assert "120 ms" in page

    response = client.get(
        reverse("chat:assistant_stats", args=[console["a_rh"].pk]), {"jours": "7"}
    )
    assert response.context["figures"]["questions"] == 1
    assert 'href="?jours=7" aria-current="page"' in response.content.decode()
    response = client.get(
        reverse("chat:assistant_stats", args=[console["a_rh"].pk]), {"jours": "365"}
    )
    assert response.context["figures"]["days"] == 30


def test_a_superuser_manages_every_assistant(client, console):
    root = User.objects.create_superuser("root", "root@ville.example", "x")
    client.force_login(root)
    page = client.get(reverse("chat:console")).content.decode()
    assert "Assistant RH" in page and "Assistant Finances" in page
    page = client.get(reverse("chat:assistant_edit", args=[console["a_fin"].pk])).content.decode()
    assert "Base Finances" in page
