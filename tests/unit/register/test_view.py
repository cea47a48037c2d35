"""The register's view of a company merged with the portfolio: the user's values win."""

from __future__ import annotations

from datetime import date

from services.register.view import (
    CodeText,
    MainActivity,
    RegisteredOffice,
    RegisterView,
    choose_main_activities,
    firmographics,
)
from shared.schemas import PortfolioEntry

VIEW = RegisterView(
    company_id="BE0403170701",
    status="active",
    name="Brouwerij Voorbeeld",
    legal_form=CodeText(code="014", description="Naamloze vennootschap"),
    start_date=date(1990, 1, 2),
    registered_office=RegisteredOffice(postal_code="4000", municipality="Liège", region="Wallonia"),
    main_activity=MainActivity(
        nace_code="11050", nace_version="2008", section="C", section_title="Manufacturing"
    ),
)


def test_the_register_fills_in_what_the_portfolio_does_not_give() -> None:
    entry = PortfolioEntry(company_id="BE0403170701", name="Brouwerij Voorbeeld NV")
    found = firmographics(entry, VIEW)
    assert (found.name, found.legal_form, found.sector, found.nace, found.region, found.start_date) == (
        "Brouwerij Voorbeeld NV",
        "Naamloze vennootschap",
        "C",
        "11050",
        "Wallonia",
        date(1990, 1, 2),
    )
    assert found.from_register == ["legal_form", "sector", "nace", "region", "start_date"]


def test_the_users_values_win() -> None:
    entry = PortfolioEntry(company_id="BE0403170701", name="Voorbeeld", nace="46.34", region="Flanders")
    found = firmographics(entry, VIEW)
    assert (found.name, found.sector, found.nace, found.region) == ("Voorbeeld", "G", "46.34", "Flanders")
    assert found.sector_title == "Wholesale and retail trade; repair of motor vehicles"
    assert found.from_register == ["legal_form", "start_date"]


def test_without_a_portfolio_entry_the_name_is_the_registers() -> None:
    found = firmographics(None, VIEW)
    assert (found.name, found.from_register[0]) == ("Brouwerij Voorbeeld", "name")


def test_the_main_activity_of_each_version_vat_first() -> None:
    rows = [
        ("003", "2008", "56101"),
        ("001", "2008", "11050"),
        ("001", "2008", "11030"),
        ("006", "2025", "11050"),
        ("003", "2025", "56111"),
    ]
    assert choose_main_activities(rows) == [("2008", "11030"), ("2025", "56111")]
    assert choose_main_activities([]) == []
