"""Standard Webhooks signatures, checked against the spec's test vector and the reference package."""

from __future__ import annotations

import json
import time

import pytest
import standardwebhooks

from shared.webhooks import WebhookVerificationError, generate_secret, sign, verify

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_spec_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_test_vector_at_its_time() -> None:
    verify(
        VECTOR_SECRET,
        msg_id=VECTOR_ID,
        timestamp=str(VECTOR_TS),
        signature=VECTOR_SIGNATURE,
        body=VECTOR_BODY,
        now=VECTOR_TS + 10,
    )


def test_our_signature_verifies_with_the_reference_package() -> None:
    secret = generate_secret()
    body = json.dumps({"id": "evt_1", "type": "tax_debt"}).encode()
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "evt_1", now, body),
    }
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {"id": "evt_1", "type": "tax_debt"}


def test_the_reference_package_signature_verifies_with_ours() -> None:
    secret = generate_secret()
    body = b'{"a": 1}'
    now = int(time.time())
    from datetime import UTC, datetime

    signature = standardwebhooks.Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), body.decode()
    )
    verify(secret, msg_id="msg_1", timestamp=str(now), signature=signature, body=body)


def test_any_of_several_signatures_may_match() -> None:
    secret, other = generate_secret(), generate_secret()
    now = int(time.time())
    both = f"{sign(other, 'm', now, b'x')} {sign(secret, 'm', now, b'x')}"
    verify(secret, msg_id="m", timestamp=str(now), signature=both, body=b"x")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "no matching"),
        ({"msg_id": "msg_other"}, "no matching"),
        ({"signature": "v1,AAAA"}, "no matching"),
        ({"signature": "v2," + VECTOR_SIGNATURE[3:]}, "no matching"),
        ({"timestamp": str(VECTOR_TS - 301)}, "too old"),
        ({"timestamp": str(VECTOR_TS + 301)}, "future"),
        ({"timestamp": "yesterday"}, "Unix time"),
        ({"signature": None}, "missing"),
        ({"msg_id": ""}, "missing"),
    ],
)
def test_verify_refuses(change: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {
        "msg_id": VECTOR_ID,
        "timestamp": str(VECTOR_TS),
        "signature": VECTOR_SIGNATURE,
        "body": VECTOR_BODY,
        **change,
    }
    with pytest.raises(WebhookVerificationError, match=reason):
        verify(VECTOR_SECRET, now=VECTOR_TS, **args)  # type: ignore[arg-type]
