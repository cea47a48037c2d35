"""Payload models of the topics: examples validate, bad values are refused at the right path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared import topics
from shared.schemas import (
    BUREAU_DATA_MODELS,
    DISTRESS_KINDS,
    OPPORTUNITY_KINDS,
    TOPIC_MODELS,
    AnnualAccountsFiled,
    BureauEvent,
    BureauEventType,
    Contact,
    EwModel,
    Observation,
    ObservationKind,
    Order,
    PortfolioEntry,
    Publication,
    PublicationPerson,
    RegisterEvent,
    Rubric,
    ScoreChange,
    Severity,
    ShareholderChange,
    Signal,
    SignalEventType,
    TaxDebt,
    UboChange,
    bureau,
    contacts,
    example_of,
    highest_severity,
    observations,
    orders,
    portfolio,
    publications,
    register,
    signals,
)

MODULES = (bureau, contacts, observations, orders, portfolio, publications, register, signals)
ALL_MODELS: list[type[BaseModel]] = sorted(
    {
        value
        for module in MODULES
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, EwModel) and value is not EwModel
    },
    key=lambda model: model.__name__,
)


def errors_of(model: type[BaseModel], data: Any) -> dict[tuple[str | int, ...], str]:
    """Location -> error type of validating `data`, which must fail."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {tuple(error["loc"]): error["type"] for error in caught.value.errors()}


def with_(model: type[BaseModel], **changes: Any) -> dict[str, Any]:
    return {**example_of(model), **changes}


# --- every model --------------------------------------------------------------------------------------


def test_topic_models_cover_every_topic() -> None:
    assert set(TOPIC_MODELS) == set(topics.ALL_TOPICS)
    assert TOPIC_MODELS[topics.BUREAU] is BureauEvent
    assert TOPIC_MODELS[topics.SIGNALS] is Signal


def test_the_models_were_found() -> None:
    assert len(ALL_MODELS) >= 20


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_example_validates_and_round_trips_through_json(model: type[BaseModel]) -> None:
    instance = model.model_validate(example_of(model))
    again = model.model_validate_json(instance.model_dump_json())
    assert again == instance


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    assert model.__doc__
    undescribed = [name for name, field in model.model_fields.items() if not field.description]
    assert undescribed == []


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda model: model.__name__)
def test_unknown_fields_are_refused(model: type[BaseModel]) -> None:
    assert errors_of(model, with_(model, surprise=1)) == {("surprise",): "extra_forbidden"}


@pytest.mark.parametrize("model", TOPIC_MODELS.values(), ids=lambda model: model.__name__)
def test_company_id_is_normalised_and_checked(model: type[BaseModel]) -> None:
    instance = model.model_validate(with_(model, company_id="0403.170.701"))
    assert getattr(instance, "company_id") == "BE0403170701"  # noqa: B009
    assert errors_of(model, with_(model, company_id="0403.170.702")) == {("company_id",): "company_id"}


def test_text_is_stripped() -> None:
    entry = PortfolioEntry.model_validate(with_(PortfolioEntry, name="  Acme NV  "))
    assert entry.name == "Acme NV"


# --- time and money -----------------------------------------------------------------------------------


def test_naive_datetimes_are_refused_with_the_field_path() -> None:
    assert errors_of(Observation, with_(Observation, observed_at="2025-10-10T09:30:00")) == {
        ("observed_at",): "timezone_aware"
    }
    assert errors_of(Order, with_(Order, ordered_at=datetime(2025, 10, 7, 13, 45))) == {
        ("ordered_at",): "timezone_aware"
    }


def test_datetimes_are_converted_to_utc_and_written_with_z() -> None:
    brussels = timezone(timedelta(hours=2))
    order = Order.model_validate(with_(Order, ordered_at=datetime(2025, 10, 7, 15, 45, tzinfo=brussels)))
    assert order.ordered_at == datetime(2025, 10, 7, 13, 45, tzinfo=UTC)
    assert order.ordered_at.utcoffset() == timedelta(0)
    assert json.loads(order.model_dump_json())["ordered_at"] == "2025-10-07T13:45:00Z"


def test_money_is_decimal_in_python_and_a_json_number() -> None:
    order = Order.model_validate(with_(Order, amount_eur=0.1))
    assert order.amount_eur == Decimal("0.1")
    assert isinstance(order.amount_eur, Decimal)
    assert json.loads(order.model_dump_json())["amount_eur"] == 0.1
    whole = Order.model_validate(with_(Order, amount_eur="50000.00"))
    assert whole.model_dump_json().count('"amount_eur":50000,') == 1
    assert Order.model_validate(with_(Order, amount_eur="1234.56")).amount_eur == Decimal("1234.56")


def test_money_in_python_mode_stays_decimal() -> None:
    order = Order.model_validate(example_of(Order))
    assert order.model_dump()["amount_eur"] == Decimal("12480.75")


@pytest.mark.parametrize(
    ("model", "field"),
    [(Order, "amount_eur"), (PortfolioEntry, "credit_limit_eur")],
)
def test_negative_amounts_are_refused(model: type[BaseModel], field: str) -> None:
    assert errors_of(model, with_(model, **{field: "-0.01"})) == {(field,): "greater_than_equal"}


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1234567890123456"])
def test_money_must_be_finite_and_at_most_15_digits(amount: str) -> None:
    assert (("amount_eur",)) in errors_of(Order, with_(Order, amount_eur=amount))


def test_portfolio_optional_fields_and_tombstone() -> None:
    entry = PortfolioEntry.model_validate({"company_id": "BE0403170701", "name": "Acme"})
    assert entry.credit_limit_eur is None
    assert entry.deleted is False
    assert errors_of(PortfolioEntry, with_(PortfolioEntry, employees=-1)) == {
        ("employees",): "greater_than_equal"
    }
    assert errors_of(PortfolioEntry, {"company_id": "BE0403170701"}) == {("name",): "missing"}


# --- observations and publications --------------------------------------------------------------------


def test_observation_kinds() -> None:
    assert len(ObservationKind) == 9
    assert frozenset(ObservationKind) == OPPORTUNITY_KINDS | DISTRESS_KINDS
    assert not OPPORTUNITY_KINDS & DISTRESS_KINDS
    assert ObservationKind.CONTACT_NOT_DIRECTOR in DISTRESS_KINDS
    assert errors_of(Observation, with_(Observation, kind="rumour")) == {("kind",): "enum"}


def test_publication_rubrics() -> None:
    assert len(Rubric) == 15
    assert errors_of(Publication, with_(Publication, rubrics=["appointment", "nonsense"])) == {
        ("rubrics", 1): "enum"
    }
    assert errors_of(Publication, with_(Publication, rubrics=[])) == {("rubrics",): "too_short"}


def test_publication_persons_are_checked_at_their_path() -> None:
    person = {"name": "Peeters, Jan", "birth_year": 1899, "role": "boss", "action": "appointed"}
    assert errors_of(Publication, with_(Publication, persons=[person])) == {
        ("persons", 0, "birth_year"): "greater_than_equal",
        ("persons", 0, "role"): "enum",
    }


def test_birth_year_cannot_be_in_the_future() -> None:
    next_year = date.today().year + 1
    errors = errors_of(PublicationPerson, with_(PublicationPerson, birth_year=next_year))
    assert errors == {("birth_year",): "value_error"}
    assert PublicationPerson.model_validate(with_(PublicationPerson, birth_year=None)).birth_year is None


def test_publication_dates_are_dates() -> None:
    publication = Publication.model_validate(example_of(Publication))
    assert publication.published_on == date(2025, 10, 8)
    assert errors_of(Publication, with_(Publication, published_on="08/10/2025")) == {
        ("published_on",): "date_from_datetime_parsing"
    }


# --- bureau --------------------------------------------------------------------------------------------


def test_every_bureau_type_has_a_data_model_with_an_example() -> None:
    assert set(BUREAU_DATA_MODELS) == set(BureauEventType)
    for event_type, model in BUREAU_DATA_MODELS.items():
        event = BureauEvent.model_validate(with_(BureauEvent, type=event_type, data=example_of(model)))
        assert type(event.data) is model


def test_bureau_data_is_the_model_of_its_type() -> None:
    event = BureauEvent.model_validate(example_of(BureauEvent))
    assert isinstance(event.data, ScoreChange)
    assert (event.data.from_, event.data.to) == (72, 45)
    assert json.loads(event.model_dump_json())["data"] == {"from": 72, "to": 45}
    assert event.model_dump()["data"] == {"from": 72, "to": 45}


def test_bureau_data_of_another_type_is_refused_at_data_fields() -> None:
    errors = errors_of(BureauEvent, with_(BureauEvent, type="tax_debt", data={"from": 72, "to": 45}))
    assert errors == {
        ("data", "amount_eur"): "missing",
        ("data", "from"): "extra_forbidden",
        ("data", "to"): "extra_forbidden",
    }


def test_bureau_errors_in_data_and_other_fields_are_reported_together() -> None:
    errors = errors_of(
        BureauEvent,
        with_(BureauEvent, occurred_at="2025-10-09T06:00:00", data={"from": 101, "to": "x"}),
    )
    assert errors == {
        ("occurred_at",): "timezone_aware",
        ("data", "from"): "less_than_equal",
        ("data", "to"): "int_parsing",
    }


@pytest.mark.parametrize("event_type", ["rumour", None, ["score_change"], {"a": 1}])
def test_bureau_unknown_type_is_one_error_on_type(event_type: Any) -> None:
    assert errors_of(BureauEvent, with_(BureauEvent, type=event_type)) == {("type",): "enum"}


def test_bureau_errors_keep_their_path_when_nested_and_in_json() -> None:
    class Batch(BaseModel):
        events: list[BureauEvent]

    body = {"events": [example_of(BureauEvent), with_(BureauEvent, data={"from": -1, "to": 45})]}
    with pytest.raises(ValidationError) as caught:
        Batch.model_validate_json(json.dumps(body))
    assert [error["loc"] for error in caught.value.errors()] == [("events", 1, "data", "from")]


def test_bureau_custom_errors_inside_data_keep_type_and_reason() -> None:
    data = {"parent_company_id": "0403.170.702", "share_pct": 60}
    with pytest.raises(ValidationError) as caught:
        BureauEvent.model_validate(with_(BureauEvent, type="shareholder_change", data=data))
    (error,) = caught.value.errors()
    assert error["loc"] == ("data", "parent_company_id")
    assert error["type"] == "company_id"
    assert "check digits do not match" in error["msg"]


def test_bureau_data_may_be_omitted_only_when_it_has_no_fields() -> None:
    event = {k: v for k, v in with_(BureauEvent, type="ubo_change").items() if k != "data"}
    assert isinstance(BureauEvent.model_validate(event).data, UboChange)
    event["type"] = "bankruptcy"
    assert errors_of(BureauEvent, event) == {("data", "declared_on"): "missing"}


def test_bureau_event_built_in_python_must_match_its_type() -> None:
    fields = {"id": "e1", "company_id": "403170701", "occurred_at": datetime(2025, 1, 1, tzinfo=UTC)}
    event = BureauEvent(**fields, type=BureauEventType.SCORE_CHANGE, data=ScoreChange(from_=50, to=20))
    assert event.company_id == "BE0403170701"
    assert errors_of(
        BureauEvent, {**fields, "type": "score_change", "data": TaxDebt(amount_eur=Decimal(1))}
    ) == {("data",): "model_type"}


def test_bureau_amounts() -> None:
    assert errors_of(TaxDebt, {"amount_eur": 0}) == {("amount_eur",): "greater_than"}
    filed = AnnualAccountsFiled.model_validate(example_of(AnnualAccountsFiled))
    assert filed.equity_eur == Decimal(-125000)
    assert errors_of(ShareholderChange, {"parent_company_id": "BE0403170701", "share_pct": 100.5}) == {
        ("share_pct",): "less_than_equal"
    }


def test_bureau_json_schema_names_the_alias() -> None:
    assert set(ScoreChange.model_json_schema()["properties"]) == {"from", "to"}


# --- contacts and register -----------------------------------------------------------------------------


@pytest.mark.parametrize("contact_id", ["", "has space", "a/b", "x" * 65, "émile"])
def test_bad_contact_ids_are_refused(contact_id: str) -> None:
    assert errors_of(Contact, with_(Contact, contact_id=contact_id)) == {
        ("contact_id",): "string_pattern_mismatch"
    }


@pytest.mark.parametrize("contact_id", ["a", "crm-000123", "A.b_c-9", "x" * 64])
def test_good_contact_ids(contact_id: str) -> None:
    assert Contact.model_validate(with_(Contact, contact_id=contact_id)).contact_id == contact_id


def test_contact_fields() -> None:
    assert errors_of(Contact, with_(Contact, dmu_role="ceo")) == {("dmu_role",): "enum"}
    assert errors_of(Contact, with_(Contact, email="not an email")) == {("email",): "string_pattern_mismatch"}
    minimal = {
        "company_id": "BE0403170701",
        "contact_id": "c1",
        "name": "X",
        "dmu_role": "unknown",
        "reporter": "r",
    }
    contact = Contact.model_validate(minimal)
    assert (contact.claims_director, contact.deleted, contact.last_contact_at) == (False, False, None)


def test_register_event_kinds() -> None:
    event = RegisterEvent.model_validate(example_of(RegisterEvent))
    assert event.code == "048"
    assert errors_of(RegisterEvent, with_(RegisterEvent, kind="moved")) == {("kind",): "enum"}
    assert errors_of(RegisterEvent, with_(RegisterEvent, observed_at="2025-10-12T02:10:00")) == {
        ("observed_at",): "timezone_aware"
    }


# --- signals -------------------------------------------------------------------------------------------


def test_severity_order_is_by_seriousness() -> None:
    assert [severity.rank for severity in Severity] == [0, 1, 2, 3, 4]
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.CRITICAL > Severity.HIGH  # alphabetically "critical" < "high"
    assert Severity.MEDIUM >= "medium"
    assert Severity.HIGH > "low"
    assert max([Severity.HIGH, Severity.CRITICAL, Severity.INFO]) is Severity.CRITICAL
    assert sorted([Severity.CRITICAL, Severity.INFO, Severity.HIGH]) == ["info", "high", "critical"]
    assert Severity.from_rank(3) is Severity.HIGH
    with pytest.raises(ValueError, match="rank"):
        Severity.from_rank(5)
    assert highest_severity([Severity.LOW, Severity.MEDIUM]) is Severity.MEDIUM
    assert highest_severity([]) is None


def test_severity_stays_a_hashable_string() -> None:
    plain: str = "high"
    assert plain == Severity.HIGH
    by_name: dict[str, int] = {Severity.HIGH: 1}
    assert by_name[plain] == 1


def test_signal_event_types() -> None:
    assert {t.value for t in SignalEventType} == {
        "earlywarning.signal.raised",
        "earlywarning.signal.updated",
        "earlywarning.signal.resolved",
    }


def test_signal_json_has_exactly_the_contract_fields() -> None:
    signal = Signal.model_validate(example_of(Signal))
    assert set(json.loads(signal.model_dump_json())) == {
        "id",
        "company_id",
        "company_name",
        "signal",
        "category",
        "severity",
        "status",
        "summary",
        "evidence",
        "risk_level",
        "score",
        "raised_at",
        "updated_at",
    }
    assert set(json.loads(signal.model_dump_json())["evidence"][0]) == {
        "source",
        "event_id",
        "type",
        "at",
        "summary",
    }


def test_signal_values_are_checked() -> None:
    assert errors_of(Signal, with_(Signal, score=101)) == {("score",): "less_than_equal"}
    assert errors_of(Signal, with_(Signal, severity="severe")) == {("severity",): "enum"}
    assert errors_of(Signal, with_(Signal, status="acknowledged")) == {("status",): "enum"}
    assert errors_of(Signal, with_(Signal, category="fraud")) == {("category",): "enum"}
    assert errors_of(Signal, with_(Signal, signal="Score Drop")) == {("signal",): "string_pattern_mismatch"}
    evidence = [{**example_of(Signal)["evidence"][0], "at": "2025-10-09T06:00:00"}]
    assert errors_of(Signal, with_(Signal, evidence=evidence)) == {("evidence", 0, "at"): "timezone_aware"}
    assert Signal.model_validate(with_(Signal, risk_level=None)).risk_level is None
