"""A person logs into the portal and sees the modules of their roles, nothing more."""

from __future__ import annotations

import pytest

from core import demo

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/")
    # Anonymous visitors land on the login page.
    assert "/comptes/login/" in page.url
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server.url}/")


def nav_labels(page) -> list[str]:
    return page.locator("nav.main-nav a").all_inner_texts()


def test_agent_sees_only_agent_modules(page, live_server, demo_city, screenshot):
    login(page, live_server, f"agent.proprete@{demo.DEMO_DOMAIN}")
    assert page.get_by_role("heading", level=1).inner_text() == "Bonjour Lucie"
    assert nav_labels(page) == [
        "Accueil",
        "Assistants",
        "Recherche",
        "Assistance informatique",
        "Annuaire",
        "Actualités",
    ]
    header = page.locator("header").inner_text()
    assert "Direction de la propreté urbaine" in header
    # News of another direction restricted to it must not show; internal news does.
    body = page.locator("main").inner_text()
    assert "Plan hivernal de déneigement" in body
    assert "Préparation budgétaire" not in body
    screenshot("portail-agent")

    # Keyboard: the first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"

    page.goto(f"{live_server.url}/audit/")
    assert page.get_by_role("heading", level=1).inner_text() == "Accès refusé"


def test_ai_admin_sees_audit_and_administration(page, live_server, demo_city, screenshot):
    login(page, live_server, f"dsi.responsable@{demo.DEMO_DOMAIN}")
    assert nav_labels(page) == [
        "Accueil",
        "Assistants",
        "Recherche",
        "Assistance informatique",
        "Annuaire",
        "Actualités",
        "Console IA",
        "Console des assistants",
        "Imports helpdesk",
        "Tableau de bord DSI",
        "Journal d'audit",
        "Administration",
    ]
    screenshot("portail-admin-ia")
    page.get_by_role("link", name="Journal d'audit").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Journal d'audit"
    assert "dsi.responsable@clairval.example" in page.locator("table").inner_text()
    screenshot("journal-audit")


def test_login_error_is_french_and_keyboard_reachable(page, live_server, demo_city, screenshot):
    page.goto(f"{live_server.url}/comptes/login/")
    # The e-mail field has the focus: a keyboard user types straight away.
    assert page.evaluate("document.activeElement.name") == "login"
    page.get_by_label("Adresse e-mail").fill(f"juriste@{demo.DEMO_DOMAIN}")
    page.get_by_label("Mot de passe").fill("mauvais mot de passe")
    page.get_by_label("Mot de passe").press("Enter")
    alert = page.get_by_role("alert")
    assert "adresse e-mail" in alert.inner_text().lower()
    assert page.locator("html").get_attribute("lang") == "fr"
    screenshot("connexion-erreur")


def test_manager_publishes_news_for_own_direction(page, live_server, demo_city, screenshot):
    login(page, live_server, f"finances@{demo.DEMO_DOMAIN}")
    page.get_by_role("link", name="Actualités").first.click()
    page.get_by_role("link", name="Publier une actualité").click()
    options = page.get_by_label("Direction").locator("option").all_inner_texts()
    assert options == ["Direction des finances et de la commande publique (FIN)"]
    page.get_by_label("Titre").fill("Fermeture exceptionnelle du guichet")
    page.get_by_label("Texte").fill("Le guichet des régies sera fermé vendredi.")
    page.get_by_label("Visibilité").select_option("internal")
    page.get_by_role("button", name="Publier").click()
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Fermeture exceptionnelle du guichet"
    )
    assert "L'actualité est publiée." in page.locator(".messages").inner_text()
    screenshot("actualite-publiee")


def test_search_cites_own_direction_documents_only(page, live_server, indexed_demo, screenshot):
    login(page, live_server, f"drh@{demo.DEMO_DOMAIN}")
    page.get_by_role("link", name="Recherche").first.click()
    page.get_by_label("Rechercher").fill("comment me faire rembourser un déplacement")
    page.get_by_label("Rechercher").press("Enter")
    first = page.locator(".result__title a").first
    assert first.inner_text() == "Remboursement des frais de déplacement"
    screenshot("recherche-drh")
    first.click()
    assert page.locator("#page-1").is_visible()
    assert "Procédures RH" in page.locator("main").inner_text()

    # An agent of another direction never sees the RH procedure, even asked word for word.
    other = page.context.browser.new_context(locale="fr-FR").new_page()
    login(other, live_server, f"technicien@{demo.DEMO_DOMAIN}")
    other.goto(f"{live_server.url}/recherche/?q=remboursement+des+frais+de+d%C3%A9placement")
    titles = other.locator(".result__title a").all_inner_texts()
    assert "Remboursement des frais de déplacement" not in titles
    other.context.close()
