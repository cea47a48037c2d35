"""NACE sections per version and regions from postal codes."""

from __future__ import annotations

import pytest

from services.register.codes import SECTION_TITLES, nace_section, region

# The NACE Rev. 2 (NACE-BEL 2008) table, written out as the issue gives it.
SECTIONS_2008 = {
    "A": (1, 3),
    "B": (5, 9),
    "C": (10, 33),
    "D": (35, 35),
    "E": (36, 39),
    "F": (41, 43),
    "G": (45, 47),
    "H": (49, 53),
    "I": (55, 56),
    "J": (58, 63),
    "K": (64, 66),
    "L": (68, 68),
    "M": (69, 75),
    "N": (77, 82),
    "O": (84, 84),
    "P": (85, 85),
    "Q": (86, 88),
    "R": (90, 93),
    "S": (94, 96),
    "T": (97, 98),
    "U": (99, 99),
}


def test_every_division_of_nace_2008_has_its_section() -> None:
    expected = {
        f"{division:02d}": letter
        for letter, (low, high) in SECTIONS_2008.items()
        for division in range(low, high + 1)
    }
    for division in range(100):
        code = f"{division:02d}"
        assert nace_section(code + "100", "2008") == expected.get(code), code
    assert set(SECTION_TITLES["2008"]) == set(SECTIONS_2008)


@pytest.mark.parametrize(
    ("code", "section"),
    [("46.69", "G"), ("46693", "G"), ("4669301", "G"), ("01110", "A"), ("99000", "U"), ("62010", "J")],
)
def test_a_nace_2008_code_in_any_written_form(code: str, section: str) -> None:
    assert nace_section(code, "2008") == section


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("45200", None),  # no division 45 in NACE 2025: motor trade went into 46-47
        ("46641", "G"),
        ("59110", "J"),
        ("62100", "K"),
        ("64190", "L"),
        ("68201", "M"),
        ("70200", "N"),
        ("86210", "R"),
        ("99000", "V"),
    ],
)
def test_nace_2025_has_sections_of_its_own(code: str, section: str | None) -> None:
    assert nace_section(code, "2025") == section
    if section:
        assert section in SECTION_TITLES["2025"]


@pytest.mark.parametrize("code", [None, "", "04000", "  ", "xx"])
def test_no_section_for_what_is_not_a_division(code: str | None) -> None:
    assert nace_section(code, "2008") is None


def test_an_unknown_nace_version_has_no_sections() -> None:
    assert nace_section("46693", "2003") is None


@pytest.mark.parametrize(
    ("postal_code", "expected"),
    [
        ("1000", "Brussels"),
        ("1299", "Brussels"),
        ("1300", "Wallonia"),
        ("1499", "Wallonia"),
        ("1500", "Flanders"),
        ("3999", "Flanders"),
        ("4000", "Wallonia"),
        ("7999", "Wallonia"),
        ("8000", "Flanders"),
        ("9999", "Flanders"),
        (" 9000 ", "Flanders"),
        ("0999", None),
        ("10000", None),
        ("B-1000", None),
        ("", None),
        (None, None),
    ],
)
def test_region_from_the_postal_code(postal_code: str | None, expected: str | None) -> None:
    assert region(postal_code) == expected
