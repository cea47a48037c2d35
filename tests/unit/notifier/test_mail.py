"""Rendering of notification emails (escaping, subjects, links, digests) and SMTP URL parsing."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from email.message import EmailMessage
from typing import Any

import pytest

from services.notifier.mail import SmtpTarget, parse_smtp_url, render_digest, render_signal
from shared.schemas import Signal, SignalEventType, example_of

RAISED = SignalEventType.RAISED.value
UPDATED = SignalEventType.UPDATED.value
RESOLVED = SignalEventType.RESOLVED.value
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def make_signal(**changes: Any) -> Signal:
    return Signal.model_validate({**example_of(Signal), **changes})


def render(signal: Signal | None = None, **kwargs: Any) -> EmailMessage:
    options: dict[str, Any] = {
        "event_type": RAISED,
        "console_url": "https://ew.example.com",
        "mail_from": "Early Warning <ew@example.com>",
        "to": "credit@example.com",
        "subscription": "Credit team",
    }
    options.update(kwargs)
    return render_signal(signal or make_signal(), **options)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies, decoded, after a round trip through bytes (as a mail server sees it)."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_signal_mail_has_headers_and_both_parts() -> None:
    message = render()
    assert message["Subject"] == "[Early Warning] HIGH score_drop — Acme Industries NV (BE0403170701)"
    assert message["From"] == "Early Warning <ew@example.com>"
    assert message["To"] == "credit@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]
    text, html = parts(message)
    assert text.startswith("New risk signal: HIGH score_drop — Acme Industries NV (BE0403170701)\n")
    for body in (text, html):
        assert "Acme Industries NV" in body
        assert "BE0403170701" in body
        assert "score_drop" in body
        assert "risk" in body
        assert "HIGH" in body
        assert "open" in body
        assert "38/100" in body
        assert "2025-10-09 06:00 UTC" in body
        assert "bureau / score_change" in body
        assert "Bureau score fell from 72 to 45." in body
        assert "https://ew.example.com/companies/BE0403170701" in body
        assert "subscription “Credit team”" in body
    assert "The credit bureau lowered Acme Industries NV's score from 72 to 45 (27 points)." in text
    assert "Risk level:  high" in text


def test_html_is_self_contained_and_accessible() -> None:
    _, html = parts(render())
    assert '<html lang="en">' in html
    assert '<th scope="row"' in html
    for external in ("<img", "<link", "<script", "src=", "@import", "url("):
        assert external not in html
    assert "http" not in html.replace("https://ew.example.com/companies/BE0403170701", "")


@pytest.mark.parametrize(
    ("event_type", "subject_start", "first_line"),
    [
        (RAISED, "[Early Warning] HIGH", "New risk signal: HIGH"),
        (UPDATED, "[Early Warning] Updated: HIGH", "Signal updated: HIGH"),
        (RESOLVED, "[Early Warning] Resolved: HIGH", "Signal resolved: HIGH"),
    ],
)
def test_subject_and_first_line_say_which_event(event_type: str, subject_start: str, first_line: str) -> None:
    message = render(event_type=event_type)
    assert message["Subject"].startswith(subject_start)
    assert message["Subject"].endswith("score_drop — Acme Industries NV (BE0403170701)")
    text, html = parts(message)
    assert text.splitlines()[0].startswith(first_line)
    assert f">{first_line.partition(':')[0]}</h1>" in html


def test_new_opportunity_says_so() -> None:
    message = render(make_signal(signal="growth_opportunity", category="opportunity", severity="info"))
    text, _ = parts(message)
    assert text.startswith("New opportunity signal: INFO growth_opportunity")


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal event type"):
        render(event_type="earlywarning.signal.deleted")


def test_company_id_stands_in_for_an_unknown_name() -> None:
    message = render(make_signal(company_name=None))
    assert message["Subject"] == "[Early Warning] HIGH score_drop — BE0403170701"
    text, _ = parts(message)
    assert "(name unknown) (BE0403170701)" in text


def test_untrusted_text_is_escaped_in_html_only() -> None:
    signal = make_signal(
        company_name=f"Evil {HOSTILE} NV",
        summary=f"Summary {HOSTILE}",
        evidence=[
            {
                "source": "observation",
                "event_id": "obs-1",
                "type": "late_payment_suppliers",
                "at": "2025-10-08T09:30:00+02:00",
                "summary": f"Evidence {HOSTILE}",
            }
        ],
    )
    text, html = parts(render(signal))
    assert "<script" not in html
    assert "<img" not in html
    assert "onerror=alert(2)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img" in html
    assert html.count("&lt;script&gt;") >= 4  # name (heading, table, link), summary, evidence
    # The plain-text part shows the text as it is.
    assert f"Evil {HOSTILE} NV (BE0403170701)" in text
    assert f"Summary {HOSTILE}" in text
    assert f"Evidence {HOSTILE}" in text
    assert "&lt;" not in text
    assert "&#34;" not in text


def test_digest_html_escapes_untrusted_text() -> None:
    signal = make_signal(company_name=f"Evil {HOSTILE} NV", summary=f"Summary {HOSTILE}")
    message = render_digest(
        [(RAISED, signal)],
        day=date(2025, 10, 9),
        subscription="Credit <b>team</b>",
        console_url=None,
        mail_from="ew@example.com",
        to="credit@example.com",
    )
    text, html = parts(message)
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "Credit &lt;b&gt;team&lt;/b&gt;" in html
    assert f"Summary {HOSTILE}" in text


def test_line_breaks_in_a_name_cannot_add_headers() -> None:
    signal = make_signal(company_name="Acme\r\nBcc: victim@example.com\r\n\r\nInjected\tbody\u2028NV\u202e")
    message = render(signal)
    subject = message["Subject"]
    assert subject == (
        "[Early Warning] HIGH score_drop — Acme Bcc: victim@example.com Injected body NV (BE0403170701)"
    )
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == subject
    assert b"\nBcc:" not in raw
    assert b"\nInjected" not in raw
    text, _ = parts(message)
    # One-line fields stay one line in the bodies too, so they cannot fake lines of the mail.
    assert "Company:     Acme Bcc: victim@example.com Injected body NV (BE0403170701)" in text


def test_a_long_name_is_shortened_in_the_subject_only() -> None:
    name = "Very Long " * 25 + "NV"
    message = render(make_signal(company_name=name))
    assert "…" in message["Subject"]
    assert len(message["Subject"]) < 160
    assert message["Subject"].endswith("(BE0403170701)")
    text, _ = parts(message)
    assert name.strip() in text


@pytest.mark.parametrize("field", ["to", "mail_from"])
def test_line_breaks_in_addresses_are_refused(field: str) -> None:
    bad: dict[str, Any] = {field: "credit@example.com\r\nBcc: victim@example.com"}
    with pytest.raises(ValueError, match=r"linefeed|carriage return"):
        render(**bad)


@pytest.mark.parametrize(
    "console_url",
    [
        "https://ew.example.com",
        "https://ew.example.com/",
        "https://ew.example.com//",
        " https://ew.example.com ",
    ],
)
def test_console_link_is_joined_without_double_slashes(console_url: str) -> None:
    text, html = parts(render(console_url=console_url))
    assert "https://ew.example.com/companies/BE0403170701" in text
    assert 'href="https://ew.example.com/companies/BE0403170701"' in html


def test_console_link_keeps_a_base_path() -> None:
    text, _ = parts(render(console_url="https://example.com/ew/"))
    assert "https://example.com/ew/companies/BE0403170701" in text


def test_no_console_no_link() -> None:
    text, html = parts(render(console_url=None))
    assert "/companies/" not in text
    assert "<a " not in html


@pytest.mark.parametrize("console_url", ["javascript:alert(1)", "ftp://example.com", "https://a b"])
def test_console_url_must_be_http(console_url: str) -> None:
    with pytest.raises(ValueError, match="console_url"):
        render(console_url=console_url)


def test_dates_are_shown_in_utc() -> None:
    signal = make_signal(raised_at="2025-10-09T08:00:05+02:00", updated_at="2025-10-10T01:30:00+02:00")
    text, _ = parts(render(signal))
    assert "Raised:      2025-10-09 06:00 UTC" in text
    assert "Updated:     2025-10-09 23:30 UTC" in text


def test_without_evidence_or_subscription() -> None:
    text, html = parts(render(make_signal(evidence=[], risk_level=None), subscription=None))
    assert "- none attached" in text
    assert "None attached." in html
    assert "Risk level:  none" in text
    assert "this address is subscribed to Early Warning notifications" in text


# --- digest ---------------------------------------------------------------------------------------


def digest_entries() -> list[tuple[str, Signal]]:
    acme = "BE0403170701"
    other = "BE0417497106"
    return [
        (RAISED, make_signal(id="sig_a1", company_id=acme, severity="medium", summary="Acme medium.")),
        (RAISED, make_signal(id="sig_a2", company_id=acme, severity="high", summary="Acme high.")),
        (
            UPDATED,
            make_signal(
                id="sig_b1",
                company_id=other,
                company_name="Brouwerij Voorbeeld NV",
                severity="critical",
                signal="bankruptcy",
                summary="Voorbeeld was declared bankrupt.",
                score=5,
                risk_level="critical",
            ),
        ),
        (
            RESOLVED,
            make_signal(id="sig_a3", company_id=acme, severity="low", status="resolved", summary="Acme low."),
        ),
        (
            RAISED,
            make_signal(
                id="sig_c1",
                company_id="BE0202239951",
                company_name=None,
                signal="growth_opportunity",
                category="opportunity",
                severity="info",
                summary="Orders grew.",
                risk_level=None,
            ),
        ),
        (
            UPDATED,
            make_signal(
                id="sig_a4",
                company_id=acme,
                severity="high",
                summary="Acme high again.",
                updated_at="2025-10-09T07:00:00Z",
            ),
        ),
    ]


def render_test_digest(entries: list[tuple[str, Signal]], **kwargs: Any) -> EmailMessage:
    options: dict[str, Any] = {
        "day": date(2026, 11, 23),
        "subscription": "Credit team",
        "console_url": "https://ew.example.com/",
        "mail_from": "ew@example.com",
        "to": "credit@example.com",
    }
    options.update(kwargs)
    return render_digest(entries, **options)


def test_digest_subject_counts_signals_and_severe_ones() -> None:
    message = render_test_digest(digest_entries())
    assert message["Subject"] == "[Early Warning] Daily digest 2026-11-23: 6 signals (1 critical, 2 high)"
    assert message["From"] == "ew@example.com"
    assert message["To"] == "credit@example.com"


def test_digest_subject_examples() -> None:
    high = make_signal(severity="high")
    low = make_signal(severity="low")
    entries = [(RAISED, high), (RAISED, high)] + [(RAISED, low)] * 5
    assert (
        render_test_digest(entries)["Subject"]
        == "[Early Warning] Daily digest 2026-11-23: 7 signals (2 high)"
    )
    assert (
        render_test_digest([(RAISED, low)])["Subject"] == "[Early Warning] Daily digest 2026-11-23: 1 signal"
    )


def test_digest_groups_by_company_most_severe_first() -> None:
    text, html = parts(render_test_digest(digest_entries()))
    order = [
        "Brouwerij Voorbeeld NV (BE0417497106)",
        "Voorbeeld was declared bankrupt.",
        "Acme Industries NV (BE0403170701)",
        "Acme high again.",  # high and latest
        "Acme high.",
        "Acme medium.",
        "Acme low.",
        "BE0202239951",
        "Orders grew.",
    ]
    for body in (text, html):
        positions = [body.index(needle) for needle in order]
        assert positions == sorted(positions), body
        assert body.count("Acme Industries NV (BE0403170701)") == 1
    assert "[Updated] CRITICAL bankruptcy (risk, open)" in text
    assert "[Resolved] LOW score_drop (risk, resolved)" in text
    assert "[New] INFO growth_opportunity (opportunity, open)" in text
    assert "risk level critical, score 5/100" in text
    assert "https://ew.example.com/companies/BE0417497106" in text
    assert 'href="https://ew.example.com/companies/BE0202239951"' in html
    assert "for 3 companies" in text
    assert "subscription “Credit team”" in text
    assert '<html lang="en">' in html


def test_empty_digest() -> None:
    message = render_test_digest([])
    assert message["Subject"] == "[Early Warning] Daily digest 2026-11-23: 0 signals"
    text, html = parts(message)
    assert "No signal events on this day." in text
    assert "No signal events on this day." in html


# --- SMTP URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://localhost:1025", SmtpTarget(host="localhost", port=1025)),
        ("smtp://mail.example.com", SmtpTarget(host="mail.example.com", port=25)),
        ("SMTP://Mail.Example.com:25/", SmtpTarget(host="mail.example.com", port=25)),
        ("smtps://mail.example.com", SmtpTarget(host="mail.example.com", port=465, use_tls=True)),
        (
            "smtp://mail.example.com?starttls=true",
            SmtpTarget(host="mail.example.com", port=587, start_tls=True),
        ),
        ("smtp://mail.example.com:2525?starttls=false", SmtpTarget(host="mail.example.com", port=2525)),
        (
            "smtp://alerts%40example.com:p%40ss%3Aw0rd@mail.example.com:587?starttls=1",
            SmtpTarget(
                host="mail.example.com",
                port=587,
                username="alerts@example.com",
                password="p@ss:w0rd",
                start_tls=True,
            ),
        ),
        ("smtp://user@[::1]:2525", SmtpTarget(host="::1", port=2525, username="user")),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("mail.example.com:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://:secret@:25", "no host"),
        ("smtp://mail.example.com:notaport", "invalid port"),
        ("smtp://mail.example.com:70000", "invalid port"),
        ("smtp://mail.example.com:0", "invalid port"),
        ("smtp://mail.example.com/path", "path"),
        ("smtp://mail.example.com?tls=true", "unknown parameters: tls"),
        ("smtp://mail.example.com?starttls=maybe", "starttls must be true or false"),
        ("smtps://mail.example.com?starttls=true", "TLS already"),
        ("smtp://:secret@mail.example.com", "no user name"),
    ],
)
def test_parse_smtp_url_errors(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as caught:
        parse_smtp_url(url)
    assert "secret" not in str(caught.value)


def test_smtp_target_keeps_the_password_out_of_sight() -> None:
    target = parse_smtp_url("smtp://alerts:hunter2@mail.example.com:587?starttls=true")
    assert target.password == "hunter2"
    assert "hunter2" not in repr(target)
    assert "hunter2" not in str(target)
    assert target.display == "smtp://alerts@mail.example.com:587"
