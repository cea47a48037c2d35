"""Notification emails: rendering signal events and daily digests, and sending them over SMTP.

Rendering is pure (templates come from the package). Every value of a signal is untrusted third-party text:
the HTML templates are autoescaped, the plain-text ones are not, and every one-line field (names,
summaries, evidence) is collapsed to a single line of printable characters, so that it can neither add
headers to the subject nor fake lines in the bodies.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import parse_qs, quote, unquote, urlsplit

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.schemas import Severity, Signal, SignalEventType

__all__ = ["MailError", "SmtpTarget", "parse_smtp_url", "render_digest", "render_signal", "send"]

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Early Warning]"
_SUBJECT_NAME_LIMIT = 80  # long company names would push the severity out of sight in mail clients
_DIGEST_SEVERITIES = (Severity.CRITICAL, Severity.HIGH)  # counted in the digest subject


# --- rendering ------------------------------------------------------------------------------------


@functools.cache
def _environment() -> Environment:
    # Autoescape for .html only: the text parts must show `<` as `<`, not `&lt;`.
    return Environment(
        loader=PackageLoader("services.notifier", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as one line: control, format and separator characters become spaces, runs of space one.

    Format characters (Cf) include the bidi overrides that could make a name read differently.
    """
    cleaned = "".join(" " if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in text)
    collapsed = " ".join(cleaned.split())
    if limit is not None and len(collapsed) > limit:
        return collapsed[: limit - 1].rstrip() + "…"
    return collapsed


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def company_url(console_url: str | None, company_id: str) -> str | None:
    """The console page of a company, or None without a console; `console_url` must be http(s)."""
    if console_url is None or not console_url.strip():
        return None
    base = console_url.strip()
    if urlsplit(base).scheme.lower() not in {"http", "https"} or any(c.isspace() for c in base):
        raise ValueError("console_url must be an http:// or https:// URL")
    return f"{base.rstrip('/')}/companies/{quote(company_id, safe='')}"


@dataclass(frozen=True)
class _Event:
    heading: str  # first line of a single-signal mail
    label: str  # short form, in digests
    subject_prefix: str  # none for a new signal: the example subject of the contract


def _event(event_type: str, signal: Signal) -> _Event:
    try:
        kind = SignalEventType(event_type)
    except ValueError:
        raise ValueError(f"unknown signal event type {event_type!r}") from None
    if kind is SignalEventType.RAISED:
        return _Event(f"New {signal.category.value} signal", "New", "")
    if kind is SignalEventType.UPDATED:
        return _Event("Signal updated", "Updated", "Updated: ")
    return _Event("Signal resolved", "Resolved", "Resolved: ")


@dataclass(frozen=True)
class _EvidenceView:
    source: str
    type: str
    at: str
    summary: str


@dataclass(frozen=True)
class _SignalView:
    """What the templates show of a signal: sanitised strings, UTC dates."""

    event: _Event
    company: str  # name (id) or id
    company_name: str | None
    company_id: str
    signal: str
    category: str
    severity: str  # upper case
    severity_key: str  # lower case, picks the colour
    status: str
    summary: str
    risk_level: str
    score: int
    evidence: list[_EvidenceView]
    raised_at: str
    updated_at: str
    link: str | None


def _view(signal: Signal, event_type: str, console_url: str | None) -> _SignalView:
    name = one_line(signal.company_name) if signal.company_name else None
    return _SignalView(
        event=_event(event_type, signal),
        company=f"{name} ({signal.company_id})" if name else signal.company_id,
        company_name=name or None,
        company_id=signal.company_id,
        signal=one_line(signal.signal),
        category=signal.category.value,
        severity=signal.severity.value.upper(),
        severity_key=signal.severity.value,
        status=signal.status.value,
        summary=one_line(signal.summary),
        risk_level=signal.risk_level.value if signal.risk_level else "none",
        score=signal.score,
        evidence=[
            _EvidenceView(
                source=one_line(item.source),
                type=one_line(item.type),
                at=_utc(item.at),
                summary=one_line(item.summary),
            )
            for item in sorted(signal.evidence, key=lambda item: item.at, reverse=True)
        ],
        raised_at=_utc(signal.raised_at),
        updated_at=_utc(signal.updated_at),
        link=company_url(console_url, signal.company_id),
    )


def signal_subject(signal: Signal, event_type: str) -> str:
    """`[Early Warning] HIGH score_drop — Acme Industries NV (BE0403170701)`, prefixed `Updated:` or
    `Resolved:` for those events; always one line."""
    event = _event(event_type, signal)
    name = one_line(signal.company_name or "", _SUBJECT_NAME_LIMIT)
    company = f"{name} ({signal.company_id})" if name else signal.company_id
    return one_line(
        f"{SUBJECT_PREFIX} {event.subject_prefix}{signal.severity.value.upper()} {signal.signal} — {company}"
    )


def _message(*, subject: str, mail_from: str, to: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    # EmailMessage refuses CR/LF in header values, so a bad `to`/`mail_from` (configuration) is a ValueError.
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    # An explicit domain: make_msgid would otherwise look up this host's FQDN, which can block.
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "earlywarning.localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _footer(subscription: str | None, what: str) -> str:
    if subscription:
        return (
            f"You receive this {what} because of the subscription “{one_line(subscription)}” "
            "in Early Warning."
        )
    return f"You receive this {what} because this address is subscribed to Early Warning notifications."


def render_signal(
    signal: Signal,
    *,
    event_type: str,
    console_url: str | None,
    mail_from: str,
    to: str,
    subscription: str | None = None,
) -> EmailMessage:
    """One multipart/alternative (text + HTML) message about one signal event.

    `event_type` is the CloudEvent type (`earlywarning.signal.raised`, `.updated`, `.resolved`); another
    type, a non-http(s) `console_url` or a header value with a line break is a ValueError.
    """
    subject = signal_subject(signal, event_type)
    context = {
        "subject": subject,
        "v": _view(signal, event_type, console_url),
        "footer": _footer(subscription, "email"),
    }
    env = _environment()
    return _message(
        subject=subject,
        mail_from=mail_from,
        to=to,
        text=env.get_template("signal.txt").render(context),
        html=env.get_template("signal.html").render(context),
    )


@dataclass(frozen=True)
class _CompanyGroup:
    company: str
    company_id: str
    risk_level: str
    score: int
    link: str | None
    items: list[_SignalView]


def _groups(
    entries: Sequence[tuple[str, Signal]], console_url: str | None
) -> tuple[list[_CompanyGroup], dict[Severity, int]]:
    by_company: dict[str, list[tuple[str, Signal]]] = {}
    counts = dict.fromkeys(Severity, 0)
    for event_type, signal in entries:
        by_company.setdefault(signal.company_id, []).append((event_type, signal))
        counts[signal.severity] += 1

    groups: list[tuple[int, str, _CompanyGroup]] = []
    for company_id, events in by_company.items():
        # Most severe first, the latest first among equals.
        events.sort(key=lambda entry: (entry[1].severity.rank, entry[1].updated_at), reverse=True)
        latest = max((signal for _, signal in events), key=lambda signal: signal.updated_at)
        # The latest known name: a name may be missing from some events or change over time.
        named = max(
            (signal for _, signal in events if signal.company_name),
            key=lambda signal: signal.updated_at,
            default=None,
        )
        name = one_line(named.company_name) if named and named.company_name else ""
        group = _CompanyGroup(
            company=f"{name} ({company_id})" if name else company_id,
            company_id=company_id,
            risk_level=latest.risk_level.value if latest.risk_level else "none",
            score=latest.score,
            link=company_url(console_url, company_id),
            items=[_view(signal, event_type, console_url) for event_type, signal in events],
        )
        groups.append((events[0][1].severity.rank, (name or company_id).casefold(), group))
    groups.sort(key=lambda entry: (-entry[0], entry[1]))
    return [group for _, _, group in groups], counts


def _count_line(total: int, counts: dict[Severity, int]) -> str:
    line = f"{total} signal{'' if total == 1 else 's'}"
    severe = [f"{counts[severity]} {severity.value}" for severity in _DIGEST_SEVERITIES if counts[severity]]
    return f"{line} ({', '.join(severe)})" if severe else line


def render_digest(
    signals: Sequence[tuple[str, Signal]],
    *,
    day: date,
    subscription: str,
    console_url: str | None,
    mail_from: str,
    to: str,
) -> EmailMessage:
    """One message listing a day's signal events `(event type, signal)`, grouped by company, most severe
    first; subject `[Early Warning] Daily digest 2026-11-23: 7 signals (2 high)`."""
    groups, counts = _groups(signals, console_url)
    count_line = _count_line(len(signals), counts)
    subject = one_line(f"{SUBJECT_PREFIX} Daily digest {day.isoformat()}: {count_line}")
    context = {
        "subject": subject,
        "day": day.isoformat(),
        "count_line": count_line,
        "companies": len(groups),
        "groups": groups,
        "footer": _footer(subscription, "digest"),
    }
    env = _environment()
    return _message(
        subject=subject,
        mail_from=mail_from,
        to=to,
        text=env.get_template("digest.txt").render(context),
        html=env.get_template("digest.html").render(context),
    )


# --- sending --------------------------------------------------------------------------------------


class MailError(Exception):
    """Sending failed. `failed` are the indices (in the batch) of the messages not delivered to every
    recipient; the text never contains the SMTP password."""

    def __init__(self, message: str, *, failed: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.failed = tuple(failed)


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send: parsed from `smtp://[user[:password]@]host[:port][?starttls=true]` or
    `smtps://...` (TLS from the first byte)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    start_tls: bool = False

    @property
    def display(self) -> str:
        """The target without the password, for logs and errors."""
        scheme = "smtps" if self.use_tls else "smtp"
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse an SMTP URL; ValueError (never quoting the password) when it is not a valid one.

    Default ports: 465 for smtps, 587 with STARTTLS, 25 otherwise. User and password are percent-decoded.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        raise ValueError("SMTP URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    if parts.path not in {"", "/"} or parts.fragment:
        raise ValueError("SMTP URL must not have a path or fragment")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("SMTP URL has an invalid port") from None
    if port == 0:
        raise ValueError("SMTP URL has an invalid port")

    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("SMTP URL has a malformed query") from None
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise ValueError(f"SMTP URL has unknown parameters: {', '.join(unknown)} (only starttls)")
    start_tls = False
    if "starttls" in query:
        values = query["starttls"]
        value = values[-1].lower()
        if len(values) > 1 or value not in _TRUE | _FALSE:
            raise ValueError("SMTP URL parameter starttls must be true or false")
        start_tls = value in _TRUE
    use_tls = scheme == "smtps"
    if use_tls and start_tls:
        raise ValueError("smtps:// is TLS already; starttls=true needs smtp://")

    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("SMTP URL has a password but no user name")
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if use_tls else 587 if start_tls else 25),
        username=username or None,
        password=password,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def _redact(text: str, target: SmtpTarget) -> str:
    # Belt and braces: servers do not echo passwords, but a message that might is never passed on as is.
    if target.password:
        text = text.replace(target.password, "***")
    return text


def _describe(exc: BaseException, target: SmtpTarget) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        text = f"recipients refused ({detail})"
    elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
        text = f"sender {exc.sender} refused ({exc.code} {exc.message})"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _redact(text, target)


async def send(messages: Sequence[EmailMessage], *, smtp_url: str, timeout: float = 10.0) -> None:
    """Send `messages` over one SMTP connection; envelope sender and recipients come from their headers.

    A refused message does not stop the others; a lost connection stops the batch. Either way MailError
    is raised at the end, naming the messages not delivered (`failed`). `timeout` is per SMTP operation.
    """
    target = parse_smtp_url(smtp_url)  # first, so that a bad URL shows even with nothing to send
    if not messages:
        return
    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        start_tls=target.start_tls,
        timeout=timeout,
    )
    everything = range(len(messages))
    try:
        await client.connect()
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"SMTP {target.display}: authentication as {target.username!r} refused: {_describe(exc, target)}",
            failed=everything,
        ) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"SMTP {target.display}: cannot connect: {_describe(exc, target)}", failed=everything
        ) from None

    failed: list[int] = []
    problems: list[str] = []
    try:
        for index, message in enumerate(messages):
            try:
                refused, _ = await client.send_message(message)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
                failed.extend(range(index, len(messages)))
                problems.append(f"connection lost at message {index}: {_describe(exc, target)}")
                break
            except (
                aiosmtplib.SMTPRecipientsRefused,
                aiosmtplib.SMTPResponseException,
                aiosmtplib.SMTPNotSupported,
                ValueError,  # an address aiosmtplib cannot send, or no recipient at all
            ) as exc:
                failed.append(index)
                problems.append(f"message {index}: {_describe(exc, target)}")
                continue
            if refused:  # accepted for some recipients only
                failed.append(index)
                detail = "; ".join(f"{rcpt}: {r.code} {r.message}" for rcpt, r in refused.items())
                problems.append(f"message {index}: recipients refused ({_redact(detail, target)})")
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
        client.close()

    sent = len(messages) - len(failed)
    log.info("mail: sent %d of %d messages via %s", sent, len(messages), target.display)
    if failed:
        raise MailError(f"SMTP {target.display}: " + "; ".join(problems), failed=failed)
