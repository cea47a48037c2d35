"""Webhook secrets at rest: sealed with a key derived from `EW_SECRET_KEY` (AES-256-GCM).

A subscription's `whsec_` secret is shown once, when it is created, and stored only sealed. The sealed value
is bound to the subscription id (associated data), so a sealed secret copied onto another row does not open.

Without `EW_SECRET_KEY`, the embedded default (SQLite) keeps a generated key in a file beside the database
(`<database>.key`, readable by its owner only), so that `earlywarning up` works with no configuration; with
PostgreSQL the key must be given.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.db import is_sqlite
from shared.settings import Settings

_VERSION = "v1"
_INFO = b"earlywarning/webhook-secrets/v1"


class SealingUnavailable(RuntimeError):
    """No key to seal secrets with: EW_SECRET_KEY is not set."""


class SealedSecretError(ValueError):
    """A sealed secret does not open: another key, another subscription, or damaged."""


class Sealer:
    """Seals and opens secrets with one key."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("EW_SECRET_KEY must be at least 16 characters")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, bound_to: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, bound_to: str) -> str:
        version, _, body = sealed.partition(".")
        if version != _VERSION:
            raise SealedSecretError("unknown sealing version")
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], bound_to.encode()).decode()
        except (binascii.Error, InvalidTag, ValueError) as exc:
            raise SealedSecretError("the secret does not open with this key") from exc


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of these settings; `SealingUnavailable` when there is no key to use."""
    if settings.secret_key is not None:
        return Sealer(settings.secret_key.get_secret_value())
    if not is_sqlite(settings.database_url):
        raise SealingUnavailable("set EW_SECRET_KEY to store webhook secrets (it seals them at rest)")
    return Sealer(_key_file(settings.database_url))


def _key_file(database_url: str) -> str:
    path = database_url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise SealingUnavailable("set EW_SECRET_KEY: an in-memory database has no place for a key file")
    key_path = Path(path).expanduser().resolve().with_suffix(".key")
    try:
        return key_path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting together do not overwrite each other's key.
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
