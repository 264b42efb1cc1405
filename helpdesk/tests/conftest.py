"""Fixtures of the helpdesk tests: a media folder per test, technicians and agents."""

from __future__ import annotations

import pytest

from core.tests.factories import DirectionFactory, UserFactory


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def q_sync(settings, monkeypatch):
    """django-q2 runs `async_task` inline: the import started by a page runs in the request."""
    from django_q.conf import Conf

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 reads it once, at import


@pytest.fixture
def dsi(db):
    return DirectionFactory(code="DSI", name="Direction des systèmes d'information")


@pytest.fixture
def technician(dsi):
    return UserFactory(roles=["agent", "technicien DSI"], directions=[dsi])


@pytest.fixture
def agent(db):
    return UserFactory(roles=["agent"], directions=[DirectionFactory(code="DRH", name="RH")])
