"""The console's pure helpers: safe redirect targets, form fields to API bodies, API errors to fields."""

from __future__ import annotations

import pytest

from services.console.forms import Form, field_errors, items, silence_body, subscription_body
from services.console.rendering import label, sentence
from services.console.session import local_path


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/companies/BE0403170701", "/companies/BE0403170701"),
        ("/?min_severity=high&cursor=abc", "/?min_severity=high&cursor=abc"),
        ("", "/"),
        (None, "/"),
        ("/login", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/ok\nSet-Cookie: x", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_redirects_stay_on_the_console(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


def form(**fields: str | list[str]) -> Form:
    return Form({name: value if isinstance(value, list) else [value] for name, value in fields.items()})


def test_subscription_form_to_the_api_body() -> None:
    body = subscription_body(
        form(
            name=" credit desk ",
            channel="webhook",
            url="https://hooks.example.com/ew",
            email="left over",
            mode="",
            min_severity="high",
            categories=["risk", ""],
            signals=[],
            segments="horeca, key accounts\nretail,",
            account_managers="",
            company_ids="0403.170.701",
        )
    )
    assert body == {
        "name": "credit desk",
        "channel": "webhook",
        "url": "https://hooks.example.com/ew",  # only the chosen channel's address
        "mode": "immediate",
        "match": {
            "min_severity": "high",
            "categories": ["risk"],
            "segments": ["horeca", "key accounts", "retail"],
            "company_ids": ["0403.170.701"],
        },
    }
    assert subscription_body(form(name="x", channel="email", email="a@example.com", url="x"))["email"] == (
        "a@example.com"
    )
    assert "url" not in subscription_body(form(name="x", channel="email", email="a@example.com"))


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2099-01-01T09:30", "2099-01-01T09:30:00Z"),
        ("2099-01-01T09:30:15", "2099-01-01T09:30:15Z"),
        ("2099-01-01T09:30:00+02:00", "2099-01-01T09:30:00+02:00"),
        ("", ""),
    ],
)
def test_silence_times_are_utc(given: str, sent: str) -> None:
    body = silence_body(form(ends_at=given, comment="why", company_id="", signal="bankruptcy"))
    assert body == {"ends_at": sent, "comment": "why", "signal": "bankruptcy"}


def test_api_errors_by_form_field() -> None:
    details = [
        {"path": "body.match.segments.0", "message": "too long"},
        {"path": "body.match.segments.1", "message": "too long too"},
        {"path": "body.url", "message": "refused"},
        {"path": "body", "message": "a webhook subscription has a url and no email"},
    ]
    assert field_errors(details) == {
        "segments": "too long; too long too",
        "url": "refused",
        "": "a webhook subscription has a url and no email",
    }


def test_wording() -> None:
    assert items(" a, b ,\n,c ") == ["a", "b", "c"]
    assert label("judicial_reorganisation") == "Judicial reorganisation"
    assert sentence("no signal sig_1") == "No signal sig_1."
    assert sentence("Done!") == "Done!"
    assert sentence("") == ""
