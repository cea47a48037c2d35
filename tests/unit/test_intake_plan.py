"""The intake's pure decision: what to publish and what to answer, per natural key."""

from __future__ import annotations

from pydantic import BaseModel

from services.ingest.intake import Accepted, Conflict, Item, plan
from services.ingest.store import KnownKey

KEY = ("publication", "25123456")


class _Body(BaseModel):
    n: int = 0


def item(body_hash: str = "h1", key: tuple[str, str] | None = KEY, event_id: str = "pub_1") -> Item:
    return Item(
        "ew.publications", "BE0403170701", "earlywarning.publication", _Body(), event_id, body_hash, key
    )


def test_a_claimed_key_is_published() -> None:
    outcomes, new = plan([item()], {KEY}, {})
    assert outcomes == [Accepted("pub_1")]
    assert new == [item()]


def test_items_without_a_natural_key_are_always_published() -> None:
    loose = item(key=None, event_id="obs_1")
    outcomes, new = plan([loose, loose], set(), {})
    assert outcomes == [Accepted("obs_1"), Accepted("obs_1")]
    assert len(new) == 2


def test_a_published_repeat_with_the_same_body_is_a_duplicate() -> None:
    outcomes, new = plan([item()], set(), {KEY: KnownKey("pub_1", "h1", published=True)})
    assert outcomes == [Accepted("pub_1", duplicate=True)]
    assert new == []


def test_another_body_under_a_known_key_is_a_conflict_published_or_not() -> None:
    for published in (True, False):
        outcomes, new = plan([item("h2")], set(), {KEY: KnownKey("pub_1", "h1", published=published)})
        assert isinstance(outcomes[0], Conflict)
        assert outcomes[0].id == "pub_1"
        assert new == []


def test_a_reserved_but_unpublished_key_with_the_same_body_is_published_again() -> None:
    # Its first request failed or died before the bus had it: publishing again loses nothing and,
    # with the same id, duplicates nothing.
    outcomes, new = plan([item()], set(), {KEY: KnownKey("pub_1", "h1", published=False)})
    assert outcomes == [Accepted("pub_1")]
    assert new == [item()]


def test_repeats_within_one_batch() -> None:
    outcomes, new = plan([item(), item(), item("h2")], {KEY}, {})
    assert outcomes[:2] == [Accepted("pub_1"), Accepted("pub_1", duplicate=True)]
    assert isinstance(outcomes[2], Conflict)
    assert len(new) == 1
