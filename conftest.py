"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

# The `fake_llm` fixture (a local server speaking the OpenAI and Mistral chat APIs), for every app.
pytest_plugins = ["ai.tests.fake_llm"]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Tests create many accounts; PBKDF2's production cost only slows them down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # allauth's login rate limits live in the cache: start each test with none.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
