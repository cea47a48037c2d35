"""Facts across companies, end to end on both buses: a director's past bankruptcy, a parent in distress.

The same app and helpers as `test_signals_service.py` (one app per bus for the module). People and
companies are chosen so that tests do not match each other: each test gives its director a birth year of
its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared import topics
from shared.cloudevents import new_event
from shared.schemas import RegisterEvent
from tests.integration import test_signals_service as service
from tests.integration.test_signals_service import Env, new_company, open_signals

env = service.env  # the same fixture: one app per bus for this module

FAILURE = "director_failure_history"
DISTRESS = "parent_distress"


def director(name: str, birth_year: int | None, action: str = "appointed") -> list[dict[str, Any]]:
    return [{"name": name, "birth_year": birth_year, "role": "director", "action": action}]


async def opened(env: Env, company: str, signal: str) -> dict[str, Any]:
    """Wait until the company has `signal` open; the signal."""
    found = await env.until(
        lambda: env.signals(company), lambda items: signal in open_signals(items), f"{signal} at {company}"
    )
    return open_signals(found)[signal]


async def closed(env: Env, company: str, signal: str) -> dict[str, Any]:
    """Wait until the company's `signal` is resolved; the signal."""
    found = await env.until(
        lambda: env.signals(company),
        lambda items: any(s["signal"] == signal and s["status"] == "resolved" for s in items),
        f"{signal} resolved at {company}",
    )
    [signal_item] = [s for s in found if s["signal"] == signal]
    return signal_item


async def bankrupt(env: Env, company: str, on: str, persons: list[dict[str, Any]] | None = None) -> None:
    """Appoint `persons` at the company in 2018, then declare it bankrupt on `on`."""
    if persons:
        await env.publication(
            company, ["appointment"], "2018-03-01", company_name="Broeck Bouw BV", persons=persons
        )
    await env.publication(company, ["bankruptcy"], on)
    await opened(env, company, "bankruptcy")


async def absent(env: Env, company: str, signal: str, events: int) -> None:
    """The company's `events` were processed and, a moment later, `signal` is not among its signals."""
    await env.processed(company, events)
    await asyncio.sleep(0.5)  # any fan-out runs in the same transaction: this is margin only
    assert signal not in {s["signal"] for s in await env.signals(company)}


# --- a person matters across companies ---------------------------------------------------------------


async def test_a_director_of_a_bankrupt_company_raises_the_signal_at_their_next_company(env: Env) -> None:
    a, b = new_company(), new_company()
    await bankrupt(env, a, "2023-05-10", director("Jan Van den Broeck", 1970))

    reference = await env.publication(
        b, ["appointment"], "2024-02-01", persons=director("Broeck, Jan Van den", 1970)
    )

    signal = await opened(env, b, FAILURE)
    assert (signal["severity"], signal["category"]) == ("high", "risk")
    assert a in signal["summary"]
    assert "Broeck Bouw BV" in signal["summary"]
    assert "2023" in signal["summary"]
    assert [e["event_id"] for e in signal["evidence"]] == [reference]
    events = await env.signal_events_until(b, 1)
    assert any(data["signal"] == FAILURE for _, data in events)


async def test_a_bankruptcy_arriving_later_reaches_the_directors_other_companies(env: Env) -> None:
    a, b = new_company(), new_company()
    await env.publication(b, ["appointment"], "2024-02-01", persons=director("Broeck, Jan Van den", 1968))
    await absent(env, b, FAILURE, 1)

    # A's bankruptcy is an event of A only: B is judged again because it shares a director with A.
    await bankrupt(env, a, "2023-05-10", director("Jan Van den Broeck", 1968))

    signal = await opened(env, b, FAILURE)
    assert a in signal["summary"]
    assert len(await env.timeline(b)) == 1  # no new event of B: the fan-out judged it again
    [(event, data)] = [(e, d) for e, d in await env.signal_events_until(b, 1) if d["signal"] == FAILURE]
    assert event.type == "earlywarning.signal.raised"
    assert data["company_id"] == b


async def test_a_late_publication_naming_a_director_of_a_bankrupt_company(env: Env) -> None:
    a, b = new_company(), new_company()
    await env.publication(b, ["appointment"], "2024-02-01", persons=director("Jan VAN DEN BROECK", 1964))
    await bankrupt(env, a, "2023-05-10")
    await absent(env, b, FAILURE, 1)

    # The appointment at A (2018) reaches us after A's bankruptcy: B is judged again all the same.
    await env.publication(a, ["appointment"], "2018-03-01", persons=director("Jan Van den Broeck", 1964))

    assert a in (await opened(env, b, FAILURE))["summary"]


async def test_a_different_birth_year_is_a_different_person(env: Env) -> None:
    a, b = new_company(), new_company()
    await bankrupt(env, a, "2023-05-10", director("Jan Van den Broeck", 1966))

    await env.publication(b, ["appointment"], "2024-02-01", persons=director("Broeck, Jan Van den", 1967))

    await absent(env, b, FAILURE, 1)


# --- trouble spreads in groups -----------------------------------------------------------------------


async def stake(
    env: Env, company: str, parent: str, share_pct: float, at: str = "2025-01-10T09:00:00Z"
) -> None:
    await env.bureau(company, "shareholder_change", at, {"parent_company_id": parent, "share_pct": share_pct})


async def test_a_bankrupt_parent_holding_the_majority_raises_parent_distress(env: Env) -> None:
    parent, majority, minority = new_company(), new_company(), new_company()
    await stake(env, majority, parent, 60)
    await stake(env, minority, parent, 40)
    await env.processed(majority, 1)
    await env.processed(minority, 1)

    await env.publication(parent, ["bankruptcy"], "2025-02-01", company_name="Holding Failliet NV")

    signal = await opened(env, majority, DISTRESS)
    assert (signal["severity"], signal["category"]) == ("high", "risk")
    assert parent in signal["summary"]
    assert "60 %" in signal["summary"]
    assert {e["source"] for e in signal["evidence"]} == {"signal", "bureau"}
    assert any(data["signal"] == DISTRESS for _, data in await env.signal_events_until(majority, 1))
    await absent(env, minority, DISTRESS, 1)

    # A subsidiary that reports its parent after the bankruptcy reads it from the context directly.
    late = new_company()
    await stake(env, late, parent, 75)
    assert parent in (await opened(env, late, DISTRESS))["summary"]


async def reorganised_parent(env: Env) -> tuple[str, str, dict[str, Any]]:
    """A parent in judicial reorganisation and its 60 % subsidiary in `parent_distress`; the parent's signal."""
    parent, child = new_company(), new_company()
    await stake(env, child, parent, 60)
    await env.bureau(
        parent,
        "judicial_reorganisation",
        "2025-03-01T09:00:00Z",
        {"court": "Gent", "opened_on": "2025-03-01"},
    )
    reorganisation = await opened(env, parent, "judicial_reorganisation")
    await opened(env, child, DISTRESS)
    return parent, child, reorganisation


async def test_a_parent_recovering_resolves_parent_distress(env: Env) -> None:
    parent, child, _ = await reorganised_parent(env)

    # The register shows the parent back in its normal situation: its reorganisation resolves...
    register = RegisterEvent.model_validate(
        {
            "company_id": parent,
            "extract_number": 141,
            "kind": "juridical_situation",
            "code": "000",
            "effective_on": "2025-06-02",
            "observed_at": "2025-06-03T06:00:00Z",
        }
    )
    await env.infra.bus.publish(
        [new_event("earlywarning.register.changed", "/test", parent, register).to_record(topics.REGISTER)]
    )
    await closed(env, parent, "judicial_reorganisation")

    # ...and so does the subsidiary's parent_distress, in the same transaction.
    signal = await closed(env, child, DISTRESS)
    assert signal["status"] == "resolved"
    kinds = [e.type for e, data in await env.signal_events_until(child, 2) if data["signal"] == DISTRESS]
    assert kinds == ["earlywarning.signal.raised", "earlywarning.signal.resolved"]
    company = await env.get(f"/v1/companies/{child}")
    assert DISTRESS not in {s["signal"] for s in company["open_signals"]}


async def test_a_parent_signal_resolved_by_hand_resolves_parent_distress(env: Env) -> None:
    _, child, reorganisation = await reorganised_parent(env)

    # The credit team knows better and closes the parent's signal: the subsidiary follows at once.
    response = await env.client.post(
        f"/v1/signals/{reorganisation['id']}/resolve",
        json={"by": "credit@example.com", "note": "plan homologated"},
        headers=env.auth("admin"),
    )
    assert response.status_code == 200, response.text
    signal = await closed(env, child, DISTRESS)
    assert signal["resolved_by"] is None  # resolved by the rules, not by hand
    company = await env.get(f"/v1/companies/{child}")
    assert (company["risk_level"], company["score"]) == (None, 100)
