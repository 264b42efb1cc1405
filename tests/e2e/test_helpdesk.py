"""The IT manager is told of a surge of printer tickets and reads it on the helpdesk
dashboard; a technician turns a resolution into a published article."""

from __future__ import annotations

import pytest

from core import demo
from tests.e2e.test_portal import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_it_manager_reads_the_surge_on_the_dashboard(page, live_server, demo_city, screenshot):
    login(page, live_server, f"dsi.responsable@{demo.DEMO_DOMAIN}")
    badge = page.get_by_role("link", name="Notifications")
    assert "1" in badge.inner_text()  # the demo's surge of printer tickets today
    badge.click()
    surge = "Hausse inhabituelle des tickets : Matériel > Imprimantes"
    page.get_by_role("link", name=surge).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Tableau de bord de l'assistance"
    alert = page.locator(".card--alert").first.inner_text()
    assert "Imprimantes" in alert and "nouveaux tickets" in alert
    chart = page.get_by_role("img", name="Nouveaux tickets par jour")
    assert chart.is_visible()
    assert page.locator("svg.chart circle").count() >= 1
    screenshot("assistance-tableau-de-bord")
    page.get_by_role("button", name="Prise en compte").first.click()
    assert "prise en compte par Sophie Marchand" in page.locator("main").inner_text()


def test_a_technician_publishes_an_article_from_a_resolution(
    page, live_server, demo_city, screenshot
):
    login(page, live_server, f"technicien@{demo.DEMO_DOMAIN}")
    page.goto(f"{live_server.url}/assistance/tickets/?etat=resolved")
    page.get_by_role("link", name="VPN : erreur de certificat").click()
    page.get_by_role("button", name="Créer un article à partir de cette résolution").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Modifier l'article"
    page.get_by_label("Titre").fill("VPN : « certificat expiré »")
    page.get_by_label("État").select_option(label="Publié")
    screenshot("assistance-article-brouillon")
    page.get_by_role("button", name="Enregistrer").click()
    assert "Article publié" in page.locator(".messages").inner_text()
    assert "Certificat machine renouvelé" in page.locator("main").inner_text()
