"""Alerts raised by the detectors: one per watched series and day, whatever module watches it
(the helpdesk's ticket counts per category today, other indicators later)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Alert(models.Model):
    # Which module's series it is about ("helpdesk.category"), and which series of it.
    kind = models.CharField("type", max_length=64, db_index=True)
    subject_key = models.CharField("série", max_length=120)
    subject_label = models.CharField("libellé", max_length=250)
    day = models.DateField("jour", db_index=True)
    value = models.FloatField("valeur observée")
    expected = models.FloatField("valeur attendue")
    score = models.FloatField("écart (z-score robuste)")
    message = models.CharField("message", max_length=500)
    url = models.CharField("lien", max_length=500, blank=True)
    created_at = models.DateTimeField("levée le", auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="prise en compte par",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField("prise en compte le", null=True, blank=True)

    class Meta:
        verbose_name = "alerte"
        verbose_name_plural = "alertes"
        ordering = ["-day", "-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_key", "day"], name="predictive_one_alert_per_day"
            )
        ]

    def __str__(self) -> str:
        return self.message
