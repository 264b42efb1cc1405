"""An agent chats with their direction's assistant; a citizen is guided to the right procedure."""

from __future__ import annotations

import pytest

from core import demo
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_portal import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_gets_a_streamed_answer_with_its_sources(page, live_server, indexed_demo, screenshot):
    login(page, live_server, f"drh@{demo.DEMO_DOMAIN}")
    page.get_by_role("link", name="Assistants").first.click()
    page.get_by_role("link", name="Assistant RH").click()
    # Enter sends the question only once chat.js (deferred) runs: before, it is a new line
    # in the text area, and nothing is asked (seen once on a loaded CI machine).
    page.wait_for_load_state()
    question = page.get_by_label("Votre question")
    question.fill("Comment me faire rembourser un déplacement ?")
    question.press("Enter")
    answer = page.locator("article.chat-msg--assistant .answer").last
    answer.wait_for(timeout=30_000)
    assert "état de frais" in answer.inner_text() or "justificatifs" in answer.inner_text()
    source = page.locator(".sources__list a").first
    assert source.inner_text().startswith("Remboursement des frais de déplacement")
    # The page URL now names the conversation, which is listed on the side.
    assert "/assistants/rh/c/" in page.url
    assert page.locator(".chat-side__list a").count() == 1
    screenshot("assistant-rh")

    # Keyboard: the citation marker is a link to the source in the panel.
    page.locator("a.cite").first.focus()
    page.keyboard.press("Enter")
    assert page.url.endswith("-1")
    source.click()
    assert page.locator("#page-1").is_visible()

    # The RH assistant does not exist for an agent of another direction.
    other = page.context.browser.new_context(locale="fr-FR").new_page()
    login(other, live_server, f"technicien@{demo.DEMO_DOMAIN}")
    other.goto(f"{live_server.url}/assistants/")
    assert "Assistant RH" not in other.locator("main").inner_text()
    assert other.goto(f"{live_server.url}/assistants/rh/").status == 404
    other.context.close()


def test_citizen_is_guided_to_the_right_procedure(page, live_server, indexed_demo, screenshot):
    page.set_viewport_size({"width": 420, "height": 860})  # a phone
    page.goto(f"{live_server.url}/citoyens/citoyens/")
    assert "/comptes/login/" not in page.url
    question = page.get_by_label("Votre question")
    question.fill("poubelle")
    question.press("Enter")
    clarify = page.locator("article.chat-msg--clarify")
    clarify.wait_for(timeout=30_000)
    assert "préciser" in clarify.inner_text()
    choice = page.locator("article.chat-msg--clarify .chip").first
    assert "bac" in choice.inner_text().lower()
    screenshot("citoyen-precision")

    page.get_by_label("Votre question").fill("ma poubelle est cassée, il faut la remplacer")
    page.get_by_role("button", name="Envoyer").click()
    answer = page.locator("article.chat-msg--assistant .answer").last
    page.wait_for_function(
        "() => document.querySelectorAll('article.chat-msg--answered').length > 0",
        timeout=30_000,
    )
    link = answer.get_by_role(
        "link", name="Remplacement d'un bac à ordures ménagères endommagé", exact=True
    )
    assert link.get_attribute("href").startswith("https://www.clairval.example/demarches/")
    assert "Pièces à préparer" in answer.inner_text()
    screenshot("citoyen-demarche")


def test_ai_admin_reviews_an_assistant(page, live_server, indexed_demo, screenshot):
    # Some use first, so that the statistics have something to show.
    login(page, live_server, f"dsi.responsable@{demo.DEMO_DOMAIN}")
    page.goto(f"{live_server.url}/assistants/intranet/")
    page.get_by_label("Votre question").fill("Quelle est la couleur du ciel sur Mars ?")
    page.get_by_label("Votre question").press("Enter")
    page.locator("article.chat-msg--unknown").wait_for(timeout=30_000)

    page.get_by_role("link", name="Console des assistants").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Console des assistants"
    screenshot("console-assistants")
    page.goto(f"{live_server.url}/ia/console/assistants/")
    row = page.locator("tr", has_text="Assistant de l'intranet")
    row.get_by_role("link", name="Statistiques").click()
    body = page.locator("main").inner_text()
    assert "Quelle est la couleur du ciel sur Mars ?" in body  # content to write
    screenshot("statistiques-assistant")
    page.goto(f"{live_server.url}/ia/console/modeles/nouveau/")
    assert page.get_by_label("Clé d'API").get_attribute("type") == "password"
    screenshot("nouveau-modele")


def test_printer_problem_article_then_ticket_then_similar(
    page, live_server, indexed_demo, screenshot
):
    """The helpdesk path: an agent describes a printer problem, gets the article, still opens a
    pre-filled ticket; a technician opens it and sees the similar resolved ticket."""
    login(page, live_server, f"agent.proprete@{demo.DEMO_DOMAIN}")
    page.goto(f"{live_server.url}/assistants/assistance-informatique/")
    question = page.get_by_label("Votre question")
    question.fill("Mes impressions restent en attente sur le copieur")
    question.press("Enter")
    answer = page.locator("article.chat-msg--assistant .answer").last
    answer.wait_for(timeout=30_000)
    assert "file" in answer.inner_text().lower() or "copieur" in answer.inner_text().lower()
    sources = page.locator(".sources__list").last.inner_text()
    assert "Imprimante" in sources and "Résolutions" not in sources
    screenshot("assistance-article")

    page.get_by_role("link", name="Ouvrir un ticket").click()
    assert page.get_by_label("Titre").input_value().startswith("Mes impressions restent")
    # What the assistant proposed is carried over; what is missing is asked for.
    assert "Imprimante" in page.get_by_label("Description", exact=True).input_value()
    assert page.get_by_label("Matériel concerné").input_value() == "copieur"
    asked = page.locator(".message--info").inner_text()
    assert "Quel message d'erreur" in asked and "Depuis quand" in asked
    page.get_by_label("Message d'erreur").fill("aucun")
    page.get_by_label("Depuis quand ?").fill("ce matin")
    screenshot("assistance-ticket-prerempli")
    page.get_by_role("button", name="Envoyer la demande").click()
    assert "Ticket n°" in page.locator(".messages").inner_text()
    assert "ce matin" in page.locator("dl.facts").inner_text()
    ticket_url = page.url

    tech = page.context.browser.new_context(locale="fr-FR").new_page()
    login(tech, live_server, f"technicien@{demo.DEMO_DOMAIN}")
    tech.goto(ticket_url)
    similar = tech.locator("section", has_text="Tickets semblables déjà résolus")
    assert "Copieur du 2e étage : impression en attente" in similar.inner_text()
    assert "VPN" not in similar.inner_text()
    tech.get_by_role("button", name="Proposer une réponse d'après ces résolutions").click()
    reply = tech.get_by_label("Votre message")
    assert "Spouleur redémarré" in reply.input_value()
    assert tech.evaluate("document.activeElement.name") == "body"  # ready to edit
    tech.screenshot(path=str(ARTIFACTS / "assistance-technicien.png"), full_page=True)
    tech.get_by_role("button", name="Envoyer").click()
    assert "Spouleur redémarré" in tech.locator("section", has_text="Échanges").inner_text()
    tech.context.close()
