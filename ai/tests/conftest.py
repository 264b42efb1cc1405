"""Fixtures of the AI layer: a fresh in-memory Qdrant and media folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ai import store
from ai.models import Collection, Source
from core.models import Visibility
from core.tests.factories import DirectionFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated_store(settings, tmp_path):
    settings.QDRANT_URL = None
    settings.QDRANT_PATH = Path(":memory:")
    settings.MEDIA_ROOT = tmp_path / "media"
    store.reset_store()
    yield
    store.reset_store()


@pytest.fixture
def org(db):
    """Two directions, each with an agent, an AI administrator and a private collection."""
    rh = DirectionFactory(code="DRH", name="Ressources humaines")
    fin = DirectionFactory(code="FIN", name="Finances")
    data = {
        "rh": rh,
        "fin": fin,
        "agent_rh": UserFactory(roles=["agent"], directions=[rh]),
        "agent_fin": UserFactory(roles=["agent"], directions=[fin]),
        "admin_rh": UserFactory(roles=["agent", "administrateur IA"], directions=[rh]),
        "admin_fin": UserFactory(roles=["agent", "administrateur IA"], directions=[fin]),
    }
    data["col_rh"] = Collection.objects.create(
        name="Base RH", slug="base-rh", direction=rh, visibility=Visibility.DIRECTION
    )
    data["col_fin"] = Collection.objects.create(
        name="Base Finances", slug="base-fin", direction=fin, visibility=Visibility.DIRECTION
    )
    data["src_rh"] = Source.objects.create(
        collection=data["col_rh"], name="Dépôt RH", kind=Source.Kind.UPLOAD
    )
    data["src_fin"] = Source.objects.create(
        collection=data["col_fin"], name="Dépôt Finances", kind=Source.Kind.UPLOAD
    )
    return data


def upload(name: str, content: bytes | str) -> SimpleUploadedFile:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return SimpleUploadedFile(name, data)
