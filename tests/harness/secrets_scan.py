"""Finding secrets in log files: what the project issues and the tests use must never be written to a log.

Recognised by shape: API keys as `shared.auth.new_key` makes them (`ew_` + 43 random URL-safe characters),
webhook signing secrets (`whsec_...`, the bureau's and the subscriptions'), passwords in URLs
(`postgresql+asyncpg://user:password@...`, `smtp://user:password@...`), bearer tokens and the values of
`Authorization` and `X-Api-Key` headers. Recognised by value: the secrets a test session knows (its admin
keys, bureau secret, database password...), given as `known`. The redacted forms that `shared.logging`
writes (`[redacted]`, and `***` from SQLAlchemy) are not secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "is_secret_name", "mask", "scan_file", "scan_files", "scan_text", "secret_constants"]

MIN_KNOWN_LENGTH = 8
"""Shorter known values are too likely to occur by chance in ordinary text."""

_TOKEN = r"[A-Za-z0-9._~+/=-]{8,}"
_HEADER_SEPARATOR = r"[\"']?\s*[:=,]\s*b?[\"']?"

# (kind, pattern with a `secret` group)
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("API key", re.compile(r"(?<![A-Za-z0-9_-])(?P<secret>ew_[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")),
    ("webhook secret", re.compile(r"(?P<secret>whsec_[A-Za-z0-9+/=]{8,})")),
    (
        "password in a URL",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"'<>]*:(?P<secret>[^@\s/\"'<>]+)@"),
    ),
    ("bearer token", re.compile(rf"(?i)\bbearer\s+(?P<secret>{_TOKEN})")),
    (
        "Authorization header",
        re.compile(
            rf"(?i)\bauthorization{_HEADER_SEPARATOR}(?:basic|token|digest|apikey)\s+(?P<secret>{_TOKEN})"
        ),
    ),
    ("X-Api-Key header", re.compile(rf"(?i)\bx[-_]api[-_]key{_HEADER_SEPARATOR}(?P<secret>{_TOKEN})")),
)

# What redaction leaves in place of a secret (shared.logging, SQLAlchemy's URL rendering).
_PLACEHOLDERS = frozenset({"[redacted]", "***", "%2A%2A%2A"})
_SECRET_NAME_ENDINGS = frozenset({"KEY", "SECRET", "PASSWORD", "PASSWD", "PW", "TOKEN"})


@dataclass(frozen=True)
class Finding:
    """A secret at a line of a file (1-based)."""

    path: Path
    line: int
    kind: str
    secret: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {mask(self.secret)}"


def mask(secret: str) -> str:
    """Enough of `secret` to tell which one it is, never enough to use it: a short prefix and the length."""
    shown = min(6, len(secret) // 4)
    return f"{secret[:shown]}****** ({len(secret)} characters)"


def _random_looking(key: str) -> bool:
    # 43 random URL-safe characters hold an upper-case letter or a digit all but always (the odds against
    # are 1 in 10^15); a name such as a long `ew_..._total` metric holds neither.
    return any(char.isupper() or char.isdigit() for char in key[3:])


def scan_text(text: str, known: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """The (kind, secret) pairs in one line of text, each secret once."""
    seen: set[str] = set()
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            secret = match.group("secret")
            if secret in _PLACEHOLDERS or secret.strip("*") == "" or secret in seen:
                continue
            if kind == "API key" and not _random_looking(secret):
                continue
            seen.add(secret)
            yield kind, secret
    for value in known:
        if len(value) >= MIN_KNOWN_LENGTH and value in text and not any(value in found for found in seen):
            seen.add(value)
            yield "known test secret", value


def scan_file(path: Path, known: Iterable[str] = ()) -> list[Finding]:
    """The secrets in the text file at `path`, with their line numbers."""
    values = sorted(set(known))
    findings = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            findings += [Finding(path, number, kind, secret) for kind, secret in scan_text(line, values)]
    return findings


def scan_files(paths: Iterable[Path], known: Iterable[str] = ()) -> list[Finding]:
    """The secrets in each of `paths` that exists (a test may have removed its own files)."""
    values = sorted(set(known))
    return [finding for path in sorted(set(paths)) if path.is_file() for finding in scan_file(path, values)]


def is_secret_name(name: str) -> bool:
    """Whether a constant called `name` holds a secret: `ADMIN_KEY`, `BUREAU_SECRET`, `EW_SECRET_KEY`..."""
    return name.upper().rsplit("_", 1)[-1] in _SECRET_NAME_ENDINGS


def secret_constants(namespace: Mapping[str, object]) -> set[str]:
    """The secrets a module defines: text constants with a secret name, and such entries of its dicts
    (an environment such as `{"EW_SECRET_KEY": "..."}`)."""
    found = set()
    for name, value in namespace.items():
        if isinstance(value, str) and is_secret_name(name):
            found.add(value)
        elif isinstance(value, Mapping):
            found |= {
                item
                for key, item in value.items()
                if isinstance(key, str) and isinstance(item, str) and is_secret_name(key)
            }
    return {value for value in found if len(value) >= MIN_KNOWN_LENGTH}
