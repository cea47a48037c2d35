"""From a CSV row of a KBO/BCE extract to a row of a register table: pure, fast, strict.

Each table of the extract has a mapper made from the file's header (columns are found by name). A mapper
returns the table row as a tuple in the order of `RowSpec.columns`, None for a row the register does not
keep (an establishment's name, a secondary activity, an establishment's address), or raises `RowError`
for a broken row, with the reason. Deletes of update extracts have a key mapper of their own.

These run once per row of files with tens of millions of rows: plain tuples, no models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from services.register.codes import KEPT_CATEGORIES
from shared.company_id import InvalidCompanyId, normalise_company_id

__all__ = [
    "DELETE_KEYS",
    "SPECS",
    "MissingColumns",
    "Row",
    "RowError",
    "RowSpec",
    "enterprise_id",
    "office_key",
    "office_text",
    "parse_date",
]

Row = tuple[object, ...]
Mapper = Callable[[Sequence[str]], Row | None]
KeyMapper = Callable[[Sequence[str]], str | None]

# Longest values the register stores (the extract's own maxima, from the KBO cookbook).
NAME_MAX = 320
MUNICIPALITY_MAX = 200
STREET_MAX = 200
COUNTRY_MAX = 100
ZIPCODE_MAX = 20
HOUSE_NUMBER_MAX = 22
BOX_MAX = 20
DESCRIPTION_MAX = 500
NACE_MAX = 8


class RowError(ValueError):
    """A row that cannot be kept: the message says which field is wrong and how."""


class MissingColumns(ValueError):
    """The file's header lacks columns the register needs: not the file it should be."""


@dataclass(frozen=True, slots=True)
class RowSpec:
    """How one table of the extract becomes a register table."""

    columns: tuple[str, ...]
    """The register table's columns, in the order of the mapped tuples."""
    mapper: Callable[[Sequence[str]], Mapper]
    """Makes the row mapper from the file's header."""


def _indexes(header: Sequence[str], *names: str) -> tuple[int, ...]:
    found = {name.strip(): i for i, name in enumerate(header)}
    missing = [name for name in names if name not in found]
    if missing:
        raise MissingColumns(f"missing column(s) {', '.join(missing)} (header: {', '.join(header)})")
    return tuple(found[name] for name in names)


def _width(fields: Sequence[str], width: int) -> None:
    if len(fields) != width:
        raise RowError(f"{len(fields)} fields where the header has {width}")


def enterprise_id(raw: str) -> str:
    """`0403.170.701` -> `BE0403170701`; `RowError` unless it is a valid enterprise number."""
    # The extract's own form first, without the general parser: this runs for every row.
    if len(raw) == 12 and raw[4] == "." and raw[8] == ".":
        digits = raw[:4] + raw[5:8] + raw[9:]
        if (
            digits.isascii()
            and digits.isdigit()
            and digits[0] in "01"
            and 97 - int(digits[:8]) % 97 == int(digits[8:])
        ):
            return "BE" + digits
    try:
        company = normalise_company_id(raw)
    except InvalidCompanyId as exc:
        raise RowError(f"enterprise number {raw!r}: {exc}") from None
    if not company.startswith("BE"):
        raise RowError(f"enterprise number {raw!r} is not Belgian")
    return company


def _entity(raw: str) -> str | None:
    """An enterprise's company id, or None for an establishment unit (first digit 2-8): not kept."""
    if raw[:1] in ("0", "1"):
        return enterprise_id(raw)
    if len(raw) == 13 and raw[:1] in "2345678" and raw[1] == ".":
        return None
    raise RowError(f"entity number {raw!r} is neither an enterprise nor an establishment number")


def establishment_number(raw: str) -> str:
    """`2.190.171.611` -> `2190171611`; `RowError` unless it has the form of an establishment number."""
    digits = raw.replace(".", "")
    if len(digits) != 10 or not (digits.isascii() and digits.isdigit()) or digits[0] not in "2345678":
        raise RowError(f"establishment number {raw!r} is not 10 digits starting with 2-8")
    return digits


def parse_date(raw: str, name: str = "date") -> date | None:
    """`dd-mm-yyyy` -> date; empty -> None; anything else `RowError`."""
    if not raw:
        return None
    try:
        if len(raw) != 10 or raw[2] != "-" or raw[5] != "-":
            raise ValueError
        return date(int(raw[6:]), int(raw[3:5]), int(raw[:2]))
    except ValueError:
        raise RowError(f"{name} {raw!r} is not a dd-mm-yyyy date") from None


def _code(raw: str, name: str, length: int, *, required: bool = True) -> str | None:
    if not raw:
        if required:
            raise RowError(f"{name} is empty")
        return None
    if len(raw) > length:
        raise RowError(f"{name} {raw!r} is longer than {length} characters")
    return raw


def _text(raw: str, name: str, limit: int) -> str | None:
    if not raw:
        return None
    if len(raw) > limit or "\x00" in raw:
        raise RowError(f"{name} is longer than {limit} characters or holds a NUL")
    return raw


# --- enterprise --------------------------------------------------------------------------------------


def _enterprise(header: Sequence[str]) -> Mapper:
    number, status, situation, kind, form, cac, start = _indexes(
        header,
        "EnterpriseNumber",
        "Status",
        "JuridicalSituation",
        "TypeOfEnterprise",
        "JuridicalForm",
        "JuridicalFormCAC",
        "StartDate",
    )
    width = len(header)

    def row(f: Sequence[str]) -> Row:
        _width(f, width)
        return (
            enterprise_id(f[number]),
            _code(f[status], "Status", 2),
            _code(f[situation], "JuridicalSituation", 3),
            _code(f[kind], "TypeOfEnterprise", 1),
            _code(f[form], "JuridicalForm", 3, required=False),
            _code(f[cac], "JuridicalFormCAC", 3, required=False),
            parse_date(f[start], "StartDate"),
        )

    return row


# --- denomination ------------------------------------------------------------------------------------


def _denomination(header: Sequence[str]) -> Mapper:
    number, language, kind, name = _indexes(
        header, "EntityNumber", "Language", "TypeOfDenomination", "Denomination"
    )
    width = len(header)

    def row(f: Sequence[str]) -> Row | None:
        _width(f, width)
        company = _entity(f[number])
        if company is None:
            return None
        text = _text(f[name], "Denomination", NAME_MAX)
        if text is None:
            raise RowError("Denomination is empty")
        return (company, _code(f[language], "Language", 1), _code(f[kind], "TypeOfDenomination", 3), text)

    return row


# --- address -----------------------------------------------------------------------------------------

REGISTERED_OFFICE = "REGO"


def office_key(
    zipcode: str | None,
    municipality: str | None,
    street: str | None,
    house_number: str | None,
    box: str | None,
    country: str | None,
) -> str:
    """A short fingerprint of an address, the same for the same address however it is re-published."""
    parts = (zipcode, municipality, street, house_number, box, country)
    text = "|".join(" ".join((part or "").casefold().split()) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def office_text(
    zipcode: str | None,
    municipality: str | None,
    street: str | None,
    house_number: str | None,
    box: str | None,
    country: str | None,
) -> str:
    """`Leuvenstraat 3 bus 22, 2000 Antwerpen` (with the country for an address abroad)."""
    line = " ".join(part for part in (street, house_number) if part)
    if box:
        line += f" bus {box}"
    place = " ".join(part for part in (zipcode, municipality) if part)
    return ", ".join(part for part in (line, place, country) if part)


def _address(header: Sequence[str]) -> Mapper:
    (number, kind, country_nl, country_fr, zipcode, town_nl, town_fr, street_nl, street_fr, house, box) = (
        _indexes(
            header,
            "EntityNumber",
            "TypeOfAddress",
            "CountryNL",
            "CountryFR",
            "Zipcode",
            "MunicipalityNL",
            "MunicipalityFR",
            "StreetNL",
            "StreetFR",
            "HouseNumber",
            "Box",
        )
    )
    (struck,) = _indexes(header, "DateStrikingOff")
    width = len(header)

    def row(f: Sequence[str]) -> Row | None:
        _width(f, width)
        if f[kind] != REGISTERED_OFFICE:
            return None  # establishment and branch addresses: not kept
        company = _entity(f[number])
        if company is None:
            return None
        values = (
            _text(f[zipcode], "Zipcode", ZIPCODE_MAX),
            _text(f[town_nl], "MunicipalityNL", MUNICIPALITY_MAX),
            _text(f[town_fr], "MunicipalityFR", MUNICIPALITY_MAX),
            _text(f[street_nl], "StreetNL", STREET_MAX),
            _text(f[street_fr], "StreetFR", STREET_MAX),
            _text(f[house], "HouseNumber", HOUSE_NUMBER_MAX),
            _text(f[box], "Box", BOX_MAX),
            _text(f[country_nl], "CountryNL", COUNTRY_MAX),
            _text(f[country_fr], "CountryFR", COUNTRY_MAX),
        )
        zipcode_, town_nl_, town_fr_, street_nl_, street_fr_, house_, box_, country_nl_, country_fr_ = values
        key = office_key(
            zipcode_, town_nl_ or town_fr_, street_nl_ or street_fr_, house_, box_, country_nl_ or country_fr_
        )
        return (company, *values, parse_date(f[struck], "DateStrikingOff"), key)

    return row


# --- activity ----------------------------------------------------------------------------------------

MAIN = "MAIN"
NACE_VERSIONS = frozenset({"2008", "2025"})


def _activity(header: Sequence[str]) -> Mapper:
    number, group, version, code, classification = _indexes(
        header, "EntityNumber", "ActivityGroup", "NaceVersion", "NaceCode", "Classification"
    )
    width = len(header)

    def row(f: Sequence[str]) -> Row | None:
        _width(f, width)
        # Most rows are secondary activities, establishments' or NACE 2003: dropped before any checking.
        if f[classification] != MAIN or f[version] not in NACE_VERSIONS or f[number][:1] not in ("0", "1"):
            return None
        nace = f[code]
        if not nace or len(nace) > NACE_MAX or not (nace.isascii() and nace.isdigit()):
            raise RowError(f"NaceCode {nace!r} is not a NACE code")
        return (enterprise_id(f[number]), _code(f[group], "ActivityGroup", 3), f[version], nace)

    return row


# --- establishment -----------------------------------------------------------------------------------


def _establishment(header: Sequence[str]) -> Mapper:
    number, start, enterprise = _indexes(header, "EstablishmentNumber", "StartDate", "EnterpriseNumber")
    width = len(header)

    def row(f: Sequence[str]) -> Row:
        _width(f, width)
        return (
            establishment_number(f[number]),
            enterprise_id(f[enterprise]),
            parse_date(f[start], "StartDate"),
        )

    return row


# --- code --------------------------------------------------------------------------------------------


def _code_row(header: Sequence[str]) -> Mapper:
    category, code, language, description = _indexes(header, "Category", "Code", "Language", "Description")
    width = len(header)

    def row(f: Sequence[str]) -> Row | None:
        _width(f, width)
        if f[category] not in KEPT_CATEGORIES:
            return None
        text = f[description].strip()[:DESCRIPTION_MAX]
        return (f[category], _code(f[code], "Code", 16), _code(f[language], "Language", 2), text)

    return row


SPECS: dict[str, RowSpec] = {
    "code": RowSpec(("category", "code", "language", "description"), _code_row),
    "enterprise": RowSpec(
        (
            "company_id",
            "status",
            "juridical_situation",
            "type_of_enterprise",
            "juridical_form",
            "juridical_form_cac",
            "start_date",
        ),
        _enterprise,
    ),
    "denomination": RowSpec(("company_id", "language", "type", "name"), _denomination),
    "address": RowSpec(
        (
            "company_id",
            "zipcode",
            "municipality_nl",
            "municipality_fr",
            "street_nl",
            "street_fr",
            "house_number",
            "box",
            "country_nl",
            "country_fr",
            "struck_off_on",
            "office_key",
        ),
        _address,
    ),
    "activity": RowSpec(("company_id", "activity_group", "nace_version", "nace_code"), _activity),
    "establishment": RowSpec(("establishment_number", "company_id", "start_date"), _establishment),
}
"""The extract's tables the register keeps, by the name of their file (`enterprise.csv`, `enterprise_insert.csv`)."""


# --- deletes of update extracts ----------------------------------------------------------------------


def _key(header: Sequence[str], column: str, parse: Callable[[str], str | None]) -> KeyMapper:
    (number,) = _indexes(header, column)
    width = len(header)

    def key(f: Sequence[str]) -> str | None:
        _width(f, width)
        return parse(f[number])

    return key


def _enterprise_key(header: Sequence[str]) -> KeyMapper:
    return _key(header, "EnterpriseNumber", enterprise_id)


def _entity_key(header: Sequence[str]) -> KeyMapper:
    return _key(header, "EntityNumber", _entity)


def _establishment_key(header: Sequence[str]) -> KeyMapper:
    return _key(header, "EstablishmentNumber", establishment_number)


DELETE_KEYS: dict[str, Callable[[Sequence[str]], KeyMapper]] = {
    "enterprise": _enterprise_key,
    "denomination": _entity_key,
    "address": _entity_key,
    "activity": _entity_key,
    "establishment": _establishment_key,
}
"""Key mappers of the `<table>_delete.csv` files: the company id (or establishment number) whose rows go;
None for an establishment's rows in a table that keeps only enterprises'."""
