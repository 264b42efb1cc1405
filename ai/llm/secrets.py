"""Encryption of the API keys stored in the database (Fernet, from `cryptography`).

A database dump or a read-only SQL access must not leak a paid API key, so keys are stored
encrypted with a key that lives in the settings, not in the database. `AI_SECRET_KEY` sets it;
without it, it is derived from `SECRET_KEY`, so rotating `SECRET_KEY` means re-entering the keys
unless the old value stays in `SECRET_KEY_FALLBACKS` (read here as Django reads it).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["InvalidToken", "SecretError", "decrypt", "encrypt"]

# Domain separation: the same SECRET_KEY also signs sessions; this key must differ from theirs.
_INFO = b"ville-workplace/ai/llm-api-keys/v1"


class SecretError(Exception):
    """A stored secret cannot be decrypted with the current keys."""


def _fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


def _secrets() -> list[str]:
    primary = getattr(settings, "AI_SECRET_KEY", None)
    if primary:
        return [primary, *getattr(settings, "AI_SECRET_KEY_FALLBACKS", [])]
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _cipher() -> MultiFernet:
    # Built per call: settings may change (tests, key rotation) and derivation costs microseconds.
    return MultiFernet([Fernet(_fernet_key(secret)) for secret in _secrets()])


def encrypt(plain: str) -> str:
    """Encrypt `plain` with the current key; the empty string stays empty."""
    if not plain:
        return ""
    return _cipher().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a value made by `encrypt`; raise `SecretError` when no known key opens it."""
    if not token:
        return ""
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretError("stored secret cannot be decrypted with the current keys") from exc
