"""Settings from the environment: blank values of secrets count as unset."""

from __future__ import annotations

import pytest

from shared.settings import Settings


@pytest.mark.parametrize("name", ["bureau_secret", "admin_key", "secret_key", "kafka_bootstrap", "smtp_url"])
def test_a_blank_value_is_unset(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A blank bureau secret would be an empty HMAC key that accepts forged webhooks.
    monkeypatch.setenv(f"EW_{name.upper()}", "  ")
    assert getattr(Settings(_env_file=None), name) is None
    monkeypatch.setenv(f"EW_{name.upper()}", "whsec_c2VjcmV0" if name == "bureau_secret" else "value")
    assert getattr(Settings(_env_file=None), name) is not None
