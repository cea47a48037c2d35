"""Legal proceedings: `bankruptcy`, `judicial_reorganisation` and `dissolution`.

They are proven by the gazette, the credit bureau or the register, whichever reports first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.schemas import (
    Bankruptcy,
    BureauEventType,
    JudicialReorganisation,
    RegisterEvent,
    RegisterEventKind,
    Rubric,
    SignalName,
)

from ..config import RulesConfig
from ..context import Context
from ..events import SourceEvent
from ..findings import Finding
from ..history import History
from ..wording import on
from ._common import Item, bureau_data, make_finding, published, words

__all__ = [
    "BANKRUPTCY_CODES",
    "DISSOLUTION_CODES",
    "NORMAL_CODE",
    "REORGANISATION_CODES",
    "bankruptcy",
    "dissolution",
    "judicial_reorganisation",
]


# KBO/BCE juridical-situation codes (contract section 9).
BANKRUPTCY_CODES: frozenset[str] = frozenset({"048", "049", "050"})
REORGANISATION_CODES: frozenset[str] = frozenset({"091", "040", "041"})
DISSOLUTION_CODES: frozenset[str] = frozenset({"010", "012", "013"})
NORMAL_CODE = "000"
"""The normal situation: ends a judicial reorganisation."""


def _code(register: RegisterEvent) -> str:
    # The register writes codes with three digits; tolerate a source that dropped the leading zeros.
    code = (register.code or "").strip()
    return code.zfill(3) if code.isdigit() else code


def _situations(history: History, codes: frozenset[str]) -> list[tuple[SourceEvent, RegisterEvent]]:
    return [
        (event, register)
        for event, register in history.register(RegisterEventKind.JURIDICAL_SITUATION)
        if _code(register) in codes
    ]


def _gazette(event: SourceEvent, rubric: Rubric) -> tuple[Item, str]:
    return (
        event.evidence(type=rubric.value),
        f"{words(rubric.value)} published in the Official Gazette on {on(event.at)}",
    )


def _register(event: SourceEvent, register: RegisterEvent) -> tuple[Item, str]:
    text = f"register situation {_code(register)}"
    if register.description:
        text += f" ({register.description})"
    return event, f"{text} since {on(event.at)}"


def _proceedings(intro: str, items: Sequence[tuple[Item, str]], signal: SignalName) -> Finding | None:
    """A finding for a legal state proven by publications, bureau events or register changes."""
    if not items:
        return None
    ordered = sorted(items, key=lambda item: (item[0].at, item[1]))
    return make_finding(
        signal,
        f"{intro}: {'; '.join(text for _, text in ordered[:3])}.",
        (item for item, _ in ordered),
        ordered[0][0].at,
    )


def bankruptcy(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`bankruptcy` (risk, critical): the company was declared bankrupt.

    Raised by a gazette publication with rubric `bankruptcy`, a bureau `bankruptcy` event, or a register
    juridical-situation change to 048, 049 or 050. Nothing resolves it: a bankruptcy is closed by hand.
    """
    items: list[tuple[Item, str]] = [
        _gazette(event, rubric) for event, rubric in published(history, frozenset({Rubric.BANKRUPTCY}))
    ]
    for event, data in bureau_data(history, BureauEventType.BANKRUPTCY, Bankruptcy):
        court = f" by {data.court}" if data.court else ""
        items.append((event, f"declared on {on(data.declared_on)}{court} according to the credit bureau"))
    items += [_register(event, register) for event, register in _situations(history, BANKRUPTCY_CODES)]
    return _proceedings("The company was declared bankrupt", items, SignalName.BANKRUPTCY)


def judicial_reorganisation(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`judicial_reorganisation` (risk, critical): court protection from creditors was opened.

    Raised by a gazette publication with rubric `judicial_reorganisation`, a bureau
    `judicial_reorganisation` event, or a register juridical-situation change to 091, 040 or 041.
    Resolved by a register juridical-situation change to 000 (normal situation) dated strictly after every
    opening: openings at or after the last return to normal count (at the same time, the critical signal
    is kept rather than dropped).
    """
    normal = _situations(history, frozenset({NORMAL_CODE}))
    after = normal[-1][0].at if normal else None

    def counts(event: SourceEvent) -> bool:
        return after is None or event.at >= after

    items: list[tuple[Item, str]] = [
        _gazette(event, rubric)
        for event, rubric in published(history, frozenset({Rubric.JUDICIAL_REORGANISATION}))
        if counts(event)
    ]
    for event, data in bureau_data(history, BureauEventType.JUDICIAL_REORGANISATION, JudicialReorganisation):
        if counts(event):
            court = f" by {data.court}" if data.court else ""
            items.append((event, f"opened on {on(data.opened_on)}{court} according to the credit bureau"))
    items += [
        _register(event, register)
        for event, register in _situations(history, REORGANISATION_CODES)
        if counts(event)
    ]
    return _proceedings(
        "The company is in judicial reorganisation, its debts are frozen",
        items,
        SignalName.JUDICIAL_REORGANISATION,
    )


def dissolution(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`dissolution` (risk, high): the company is being dissolved or liquidated.

    Raised by a gazette publication with rubric `dissolution` or `liquidation`, or a register
    juridical-situation change to 010, 012 or 013. Nothing resolves it: it is closed by hand.
    """
    rubrics = frozenset({Rubric.DISSOLUTION, Rubric.LIQUIDATION})
    items = [_gazette(event, rubric) for event, rubric in published(history, rubrics)]
    items += [_register(event, register) for event, register in _situations(history, DISSOLUTION_CODES)]
    return _proceedings("The company is being dissolved or liquidated", items, SignalName.DISSOLUTION)
