"""Spike alerts: a category whose new tickets rise abnormally against its own weekdays raises
one alert, shown on the dashboard with its chart and sent to the IT manager by e-mail and
in-app notification; the report of problems solved without a ticket, week by week."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.models import Notification
from core.tests.factories import UserFactory
from helpdesk import alerts, services
from helpdesk.models import Category, Deflection, Ticket
from predictive.models import Alert

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 24)  # a Tuesday


def _tickets(category, day: date, n: int, origin=Ticket.Origin.IMPORT):
    at = timezone.make_aware(datetime.combine(day, time(10, 0)))
    Ticket.objects.bulk_create(
        [
            Ticket(title=f"T {day} {i}", category=category, created_at=at, origin=origin)
            for i in range(n)
        ]
    )


@pytest.fixture
def history():
    """Ten weeks of ordinary weekdays for two categories; quiet weekends."""
    printers = Category.objects.create(name="Imprimantes")
    vpn = Category.objects.create(name="VPN")
    for back in range(1, 71):
        day = TODAY - timedelta(days=back)
        if day.weekday() < 5:
            _tickets(printers, day, 3 + back % 2)
            _tickets(vpn, day, 2)
    return printers, vpn


@pytest.fixture
def manager(dsi):
    return UserFactory(
        roles=["agent", "responsable DSI"], directions=[dsi], email="sophie@ville.example"
    )


def test_a_surge_raises_one_alert_sent_to_the_it_manager(history, manager, technician):
    printers, vpn = history
    _tickets(printers, TODAY, 24)
    _tickets(vpn, TODAY, 2)  # an ordinary Tuesday for the VPN

    raised = alerts.check_spikes(TODAY)
    assert [(a.subject_label, a.day, a.value) for a in raised] == [("Imprimantes", TODAY, 24)]
    assert 3 <= raised[0].expected <= 4 and "24 nouveaux tickets le 24/11/2026" in raised[0].message

    notes = Notification.objects.all()
    assert [n.user for n in notes] == [manager]  # the technician does not get alerts
    assert "Imprimantes" in notes[0].title and notes[0].url == "/assistance/tableau-de-bord/"
    assert [m.to for m in mail.outbox] == [["sophie@ville.example"]]
    assert "24 nouveaux tickets" in mail.outbox[0].body

    # Hourly checks raise a surge once.
    assert alerts.check_spikes(TODAY) == []
    assert Alert.objects.count() == 1 and len(mail.outbox) == 1


def test_a_new_kind_of_request_flooding_in_is_an_alert(history, manager):
    teams = Category.objects.create(name="Visioconférence")  # no ticket before today
    _tickets(teams, TODAY, 9)
    assert [a.subject_label for a in alerts.check_spikes(TODAY)] == ["Visioconférence"]


def test_an_ordinary_day_and_a_bank_holiday_backlog_raise_nothing(history, manager):
    printers, vpn = history
    _tickets(printers, TODAY, 4)
    _tickets(vpn, TODAY, 3)
    assert alerts.check_spikes(TODAY) == []
    # 11 November 2026 (a Wednesday) is a bank holiday: no ticket that day, and its backlog
    # arrives on Thursday the 12th (twice the usual). Neither is a surge.
    holiday, after = date(2026, 11, 11), date(2026, 11, 12)
    Ticket.objects.filter(created_at__date=holiday).delete()
    for category, usual in ((printers, 4), (vpn, 2)):
        _tickets(category, after, usual)  # on top of the usual ones: twice the volume
    assert alerts.check_spikes(after) == []
    assert not Alert.objects.exists() and not mail.outbox


def test_the_dashboard_shows_alerts_chart_and_deflections(client, history, manager, agent):
    printers, _ = history
    _tickets(printers, TODAY, 24)
    alerts.check_spikes(TODAY)
    Deflection.objects.create(user=agent, conversation_id=1, question="Imprimante")
    services.open_ticket(requester=agent, title="Écran noir")

    client.force_login(agent)
    assert client.get("/assistance/tableau-de-bord/").status_code == 403

    client.force_login(manager)
    html = client.get("/assistance/tableau-de-bord/").content.decode()
    assert "Imprimantes" in html and "24 nouveaux tickets" in html
    assert '<svg class="chart"' in html and "<circle" in html  # the surge is ringed
    # This week: one ticket opened from the portal, one problem solved without a ticket
    # (the imported history is not counted).
    weeks = client.get("/assistance/tableau-de-bord/").context["weeks"]
    assert (weeks[0].tickets, weeks[0].deflections) == (1, 1)
    assert "50 %" in html

    alert = Alert.objects.get()
    client.post(f"/assistance/alertes/{alert.pk}/prise-en-compte/")
    alert.refresh_from_db()
    assert alert.acknowledged_by == manager

    # The portal header counts the unread notification; « Tout marquer comme lu » clears it.
    page = client.get("/notifications/").content.decode()
    assert "Hausse inhabituelle des tickets" in page and 'class="badge"' in page
    client.post("/notifications/")
    assert 'class="badge"' not in client.get("/notifications/").content.decode()


def test_notifications_are_personal(client, manager, agent):
    from core.notifications import notify

    notify([manager], title="Pour Sophie", body="Secret", email=False)
    client.force_login(agent)
    assert "Pour Sophie" not in client.get("/notifications/").content.decode()
    client.post("/notifications/")  # marks only the agent's own
    assert Notification.objects.get().read_at is None
