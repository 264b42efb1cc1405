"""The helpdesk dashboard (IT manager and technicians): spike alerts, the daily chart, the
tickets avoided by the assistant."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from helpdesk import alerts, dashboard
from predictive.models import Alert
from predictive.services import recent_alerts

VIEW_DASHBOARD = "helpdesk.view_dashboard"


@permission_required(VIEW_DASHBOARD, raise_exception=True)
def dashboard_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    chart = dashboard.category_chart(today=today)
    weeks = dashboard.deflection_report(today=today)
    return render(
        request,
        "helpdesk/dashboard.html",
        {
            "alerts": recent_alerts(alerts.KIND, today - timedelta(days=30)).select_related(
                "acknowledged_by"
            ),
            "chart": chart,
            "rows": [
                (day, [int(line.values[i]) for line in chart.lines])
                for i, day in reversed(list(enumerate(chart.days)))
            ],
            "weeks": list(reversed(weeks)),
            "totals": (sum(w.tickets for w in weeks), sum(w.deflections for w in weeks)),
        },
    )


@require_POST
@permission_required(VIEW_DASHBOARD, raise_exception=True)
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk, kind=alerts.KIND)
    if alert.acknowledged_at is None:
        alert.acknowledged_by, alert.acknowledged_at = request.user, timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
    messages.success(request, "Alerte notée comme prise en compte.")
    return redirect("helpdesk:dashboard")


@require_POST
@permission_required(VIEW_DASHBOARD, raise_exception=True)
def check_now(request: HttpRequest) -> HttpResponse:
    """« Vérifier maintenant » rather than waiting for the hourly check (runs in the
    background)."""
    from django_q.tasks import async_task

    async_task("helpdesk.tasks.check_spikes")
    messages.success(request, "Vérification lancée : les nouvelles alertes s'afficheront ici.")
    return redirect("helpdesk:dashboard")
