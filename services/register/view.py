"""What the register says of one company, for `GET /v1/companies/{id}` (under `register`) and the console.

`register_view(conn, company_id)` reads it; `firmographics` (pure) merges it with the portfolio entry:
the user's own values win, the register fills in what the user did not give.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.register import store
from services.register.codes import SECTION_TITLES, nace_section, region
from services.signals.store import companies
from shared.schemas import PortfolioEntry

__all__ = [
    "CodeText",
    "Firmographics",
    "MainActivity",
    "RegisterName",
    "RegisterView",
    "RegisteredOffice",
    "choose_main_activities",
    "firmographics",
    "register_view",
]

T = TypeVar("T")

_LANGUAGES = {"1": "fr", "2": "nl", "3": "de", "4": "en"}
_NAME_TYPES = {"001": "name", "002": "abbreviation", "003": "commercial_name", "004": "branch_name"}
# The name shown first: the official name, in the language of the statutes as far as one is preferred.
_LANGUAGE_ORDER = {"2": 0, "1": 1, "3": 2, "4": 3, "0": 4}


class CodeText(BaseModel):
    """A register code with its description (Dutch, else French)."""

    code: str
    description: str | None = None


class RegisterName(BaseModel):
    name: str
    type: str = Field(description="name, abbreviation, commercial_name or branch_name.")
    language: str | None = Field(None, description="fr, nl, de or en; null when the register does not say.")


class RegisteredOffice(BaseModel):
    postal_code: str | None = None
    municipality: str | None = Field(None, description="Dutch name, else French.")
    street: str | None = Field(None, description="Dutch name, else French.")
    house_number: str | None = None
    box: str | None = None
    country: str | None = Field(None, description="Only for an office abroad.")
    region: str | None = Field(None, description="Brussels, Wallonia or Flanders, from the postal code.")
    struck_off_on: date | None = Field(None, description="When the register crossed the address out.")


class MainActivity(BaseModel):
    nace_code: str = Field(description="As the register writes it, e.g. 46690 (NACE-BEL subclass).")
    nace_version: str = Field(description="2008 or 2025 (NACE-BEL).")
    description: str | None = None
    section: str | None = Field(None, description="NACE section letter of the code's version.")
    section_title: str | None = None


class Firmographics(BaseModel):
    """The company's profile: the portfolio's values where the user gave them, else the register's."""

    name: str | None = None
    legal_form: str | None = None
    sector: str | None = Field(None, description="NACE section letter.")
    sector_title: str | None = None
    nace: str | None = None
    region: str | None = None
    start_date: date | None = None
    from_register: list[str] = Field(
        default_factory=list, description="The fields above taken from the register."
    )


class RegisterView(BaseModel):
    """The company in the public register (KBO/BCE Open Data), as of the last extract loaded."""

    company_id: str
    status: Literal["active", "struck_off"] = Field(
        description="struck_off: the enterprise is no longer in the register (the open data keeps active "
        "enterprises only)."
    )
    struck_off_extract: int | None = Field(None, description="The first extract without the enterprise.")
    struck_off_snapshot: date | None = None
    name: str | None = Field(None, description="The official name.")
    names: list[RegisterName] = Field(default_factory=list)
    legal_form: CodeText | None = None
    legal_form_cac: CodeText | None = Field(
        None, description="The legal form to read, pending an update of the statutes to the new code."
    )
    juridical_situation: CodeText | None = None
    enterprise_type: CodeText | None = None
    start_date: date | None = None
    registered_office: RegisteredOffice | None = None
    main_activity: MainActivity | None = Field(
        None, description="The main activity the sector comes from (NACE-BEL 2008 when the register has it)."
    )
    main_activities: list[MainActivity] = Field(
        default_factory=list, description="The main activity in each NACE version the register gives."
    )
    extract_number: int | None = Field(None, description="The last extract loaded.")
    extract_date: date | None = Field(None, description="Its snapshot date.")
    firmographics: Firmographics = Field(default_factory=Firmographics)


def choose_main_activities(rows: Iterable[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """From (activity_group, nace_version, nace_code) rows, the main activity of each NACE version:
    the VAT registration's (group 001) first, then the social security's (003), then any; 2008 first."""

    def rank(row: tuple[str, str, str]) -> tuple[int, str, str]:
        group, _, code = row
        return ({"001": 0, "003": 1}.get(group, 2), group, code)

    best: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        version = row[1]
        if version not in best or rank(row) < rank(best[version]):
            best[version] = row
    return [(version, best[version][2]) for version in sorted(best)]


def _pick(name: str, own: T | None, registered: T | None, taken: list[str]) -> T | None:
    """The user's value if given, else the register's (noting its `name` in `taken`)."""
    if own not in (None, ""):
        return own
    if registered not in (None, ""):
        taken.append(name)
    return registered


def firmographics(entry: PortfolioEntry | None, view: RegisterView) -> Firmographics:
    """The portfolio entry's values, completed by the register's; `from_register` names what it gave."""
    taken: list[str] = []
    activity = view.main_activity
    office = view.registered_office
    own_nace = entry.nace if entry else None
    name = _pick("name", entry.name if entry else None, view.name, taken)
    legal_form = _pick("legal_form", None, view.legal_form.description if view.legal_form else None, taken)
    if own_nace:
        # The portfolio does not say which NACE version; its codes are the long-standing 2008 ones.
        sector = nace_section("".join(ch for ch in own_nace if ch.isdigit()), "2008")
        title = SECTION_TITLES["2008"].get(sector or "")
    else:
        sector = _pick("sector", None, activity.section if activity else None, taken)
        title = activity.section_title if activity else None
    return Firmographics(
        name=name,
        legal_form=legal_form,
        sector=sector,
        sector_title=title,
        nace=_pick("nace", own_nace, activity.nace_code if activity else None, taken),
        region=_pick("region", entry.region if entry else None, office.region if office else None, taken),
        start_date=_pick("start_date", None, view.start_date, taken),
        from_register=taken,
    )


async def register_view(conn: AsyncConnection, company_id: str) -> RegisterView | None:
    """The register's record of `company_id` (normalised, `BE0403170701`); None if the register never had it."""
    e, d = store.register_enterprises, store.register_departed
    enterprise = (
        await conn.execute(
            select(
                e.c.juridical_situation,
                e.c.juridical_form,
                e.c.juridical_form_cac,
                e.c.type_of_enterprise,
                e.c.start_date,
            ).where(e.c.company_id == company_id)
        )
    ).first()
    departed = None
    if enterprise is None:
        departed = (
            await conn.execute(
                select(
                    d.c.extract_number,
                    d.c.snapshot_date,
                    d.c.juridical_situation,
                    d.c.juridical_form,
                    d.c.start_date,
                ).where(d.c.company_id == company_id)
            )
        ).first()
        if departed is None:
            return None
    if enterprise is not None:
        situation, form, cac, kind, start = enterprise
    else:
        assert departed is not None
        situation, form, cac, kind, start = departed[2], departed[3], None, None, departed[4]
    names = await _names(conn, company_id)
    office = (await store.offices(conn, [company_id])).get(company_id)
    activities = await _activities(conn, company_id)
    forms = await store.descriptions(conn, "JuridicalForm", [c for c in (form, cac) if c])
    situations = await store.descriptions(conn, "JuridicalSituation", [situation] if situation else [])
    kinds = await store.descriptions(conn, "TypeOfEnterprise", [kind] if kind else [])
    extract = await _last_extract(conn)
    view = RegisterView(
        company_id=company_id,
        status="active" if enterprise is not None else "struck_off",
        struck_off_extract=departed[0] if departed is not None else None,
        struck_off_snapshot=departed[1] if departed is not None else None,
        name=_official_name(names),
        names=[
            RegisterName(name=name, type=_NAME_TYPES.get(kind_, kind_), language=_LANGUAGES.get(language))
            for language, kind_, name in names
        ],
        legal_form=CodeText(code=form, description=forms.get(form)) if form else None,
        legal_form_cac=CodeText(code=cac, description=forms.get(cac)) if cac else None,
        juridical_situation=(
            CodeText(code=situation, description=situations.get(situation)) if situation else None
        ),
        enterprise_type=CodeText(code=kind, description=kinds.get(kind)) if kind else None,
        start_date=start,
        registered_office=(
            RegisteredOffice(
                postal_code=office.zipcode,
                municipality=office.municipality,
                street=office.street,
                house_number=office.house_number,
                box=office.box,
                country=office.country,
                region=None if office.country else region(office.zipcode),
                struck_off_on=office.struck_off_on,
            )
            if office is not None
            else None
        ),
        main_activity=activities[0] if activities else None,
        main_activities=activities,
        extract_number=extract[0] if extract else None,
        extract_date=extract[1] if extract else None,
    )
    view.firmographics = firmographics(await _portfolio(conn, company_id), view)
    return view


async def _names(conn: AsyncConnection, company_id: str) -> list[tuple[str, str, str]]:
    t = store.register_denominations
    result = await conn.execute(select(t.c.language, t.c.type, t.c.name).where(t.c.company_id == company_id))
    return sorted(
        ((language, kind, name) for language, kind, name in result),
        key=lambda row: (row[1], _LANGUAGE_ORDER.get(row[0], 9), row[2]),
    )


def _official_name(names: Sequence[tuple[str, str, str]]) -> str | None:
    official = [name for _, kind, name in names if kind == "001"]
    return official[0] if official else (names[0][2] if names else None)


async def _activities(conn: AsyncConnection, company_id: str) -> list[MainActivity]:
    """The main activity per NACE version, the one the sector comes from first (2008, else 2025)."""
    t = store.register_activities
    result = await conn.execute(
        select(t.c.activity_group, t.c.nace_version, t.c.nace_code).where(t.c.company_id == company_id)
    )
    chosen = choose_main_activities([(g, v, c) for g, v, c in result])
    texts = {
        version: await store.descriptions(
            conn, f"Nace{version}", [code for v, code in chosen if v == version]
        )
        for version in {version for version, _ in chosen}
    }
    activities = []
    for version, code in chosen:
        section = nace_section(code, version)
        activities.append(
            MainActivity(
                nace_code=code,
                nace_version=version,
                description=texts[version].get(code),
                section=section,
                section_title=SECTION_TITLES.get(version, {}).get(section or ""),
            )
        )
    return activities


async def _last_extract(conn: AsyncConnection) -> tuple[int, date] | None:
    t = store.register_extracts
    row = (
        await conn.execute(
            select(t.c.extract_number, t.c.snapshot_date)
            .where(t.c.status == "done")
            .order_by(t.c.extract_number.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def _portfolio(conn: AsyncConnection, company_id: str) -> PortfolioEntry | None:
    raw = await conn.scalar(select(companies.c.portfolio).where(companies.c.company_id == company_id))
    return PortfolioEntry.model_validate_json(raw) if raw else None
