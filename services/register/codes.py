"""What the register's codes mean, as far as the system needs: NACE sections, regions, kept code tables.

Pure tables and functions, no I/O. The readable descriptions of codes come from the extract's own
`code.csv` (kept in `register_codes`); what is here is what `code.csv` does not say.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "KEPT_CATEGORIES",
    "NORMAL_SITUATION",
    "SECTION_TITLES",
    "nace_section",
    "region",
]

NORMAL_SITUATION = "000"
"""The juridical situation of an enterprise with nothing going on."""

KEPT_CATEGORIES: frozenset[str] = frozenset(
    {
        "JuridicalSituation",
        "JuridicalForm",
        "TypeOfEnterprise",
        "TypeOfDenomination",
        "Language",
        "Status",
        "Nace2008",
        "Nace2025",
    }
)
"""The code tables of `code.csv` the register keeps: those of the columns it keeps."""


def _divisions(spans: Iterable[tuple[str, int, int]]) -> dict[str, str]:
    return {f"{division:02d}": letter for letter, low, high in spans for division in range(low, high + 1)}


# NACE Rev. 2 (NACE-BEL 2008): the section of each 2-digit division.
_SECTIONS_2008 = _divisions(
    [
        ("A", 1, 3),
        ("B", 5, 9),
        ("C", 10, 33),
        ("D", 35, 35),
        ("E", 36, 39),
        ("F", 41, 43),
        ("G", 45, 47),
        ("H", 49, 53),
        ("I", 55, 56),
        ("J", 58, 63),
        ("K", 64, 66),
        ("L", 68, 68),
        ("M", 69, 75),
        ("N", 77, 82),
        ("O", 84, 84),
        ("P", 85, 85),
        ("Q", 86, 88),
        ("R", 90, 93),
        ("S", 94, 96),
        ("T", 97, 98),
        ("U", 99, 99),
    ]
)

# NACE Rev. 2.1 (NACE-BEL 2025) moved sections: division 45 is gone (into 46-47), information and
# communication split into J (58-60) and K (61-63), and every later section shifts by one letter.
_SECTIONS_2025 = _divisions(
    [
        ("A", 1, 3),
        ("B", 5, 9),
        ("C", 10, 33),
        ("D", 35, 35),
        ("E", 36, 39),
        ("F", 41, 43),
        ("G", 46, 47),
        ("H", 49, 53),
        ("I", 55, 56),
        ("J", 58, 60),
        ("K", 61, 63),
        ("L", 64, 66),
        ("M", 68, 68),
        ("N", 69, 75),
        ("O", 77, 82),
        ("P", 84, 84),
        ("Q", 85, 85),
        ("R", 86, 88),
        ("S", 90, 93),
        ("T", 94, 96),
        ("U", 97, 98),
        ("V", 99, 99),
    ]
)

SECTION_TITLES: dict[str, dict[str, str]] = {
    "2008": {
        "A": "Agriculture, forestry and fishing",
        "B": "Mining and quarrying",
        "C": "Manufacturing",
        "D": "Electricity, gas, steam and air conditioning supply",
        "E": "Water supply, sewerage, waste management and remediation",
        "F": "Construction",
        "G": "Wholesale and retail trade; repair of motor vehicles",
        "H": "Transportation and storage",
        "I": "Accommodation and food service activities",
        "J": "Information and communication",
        "K": "Financial and insurance activities",
        "L": "Real estate activities",
        "M": "Professional, scientific and technical activities",
        "N": "Administrative and support service activities",
        "O": "Public administration and defence",
        "P": "Education",
        "Q": "Human health and social work activities",
        "R": "Arts, entertainment and recreation",
        "S": "Other service activities",
        "T": "Activities of households as employers",
        "U": "Activities of extraterritorial organisations",
    },
    "2025": {
        "A": "Agriculture, forestry and fishing",
        "B": "Mining and quarrying",
        "C": "Manufacturing",
        "D": "Electricity, gas, steam and air conditioning supply",
        "E": "Water supply, sewerage, waste management and remediation",
        "F": "Construction",
        "G": "Wholesale and retail trade",
        "H": "Transportation and storage",
        "I": "Accommodation and food service activities",
        "J": "Publishing, broadcasting, and content production and distribution",
        "K": "Telecommunication, computer programming, consulting and other information services",
        "L": "Financial and insurance activities",
        "M": "Real estate activities",
        "N": "Professional, scientific and technical activities",
        "O": "Administrative and support service activities",
        "P": "Public administration and defence",
        "Q": "Education",
        "R": "Human health and social work activities",
        "S": "Arts, sports and recreation",
        "T": "Other service activities",
        "U": "Activities of households as employers",
        "V": "Activities of extraterritorial organisations",
    },
}
"""Titles of the sections, per NACE version."""

_SECTIONS = {"2008": _SECTIONS_2008, "2025": _SECTIONS_2025}


def sections_by_division(version: str = "2008") -> dict[str, str]:
    """The section letter of each NACE division (`"46"`) in NACE-BEL `version`."""
    return dict(_SECTIONS.get(version, {}))


def nace_section(code: str | None, version: str = "2008") -> str | None:
    """The section letter of a NACE code (`46.69`, `46690`, `4669001`) in NACE-BEL `version` (2008 or 2025).

    None for an unknown version or a code whose division is in no section.
    """
    if not code:
        return None
    division = code.strip()[:2]
    return _SECTIONS.get(version, {}).get(division)


# Belgian postal codes by region (bpost ranges): Brussels-Capital, then Wallonia, the rest Flanders.
REGIONS: tuple[tuple[int, int, str], ...] = (
    (1000, 1299, "Brussels"),
    (1300, 1499, "Wallonia"),
    (1500, 3999, "Flanders"),
    (4000, 7999, "Wallonia"),
    (8000, 9999, "Flanders"),
)


def region(postal_code: str | None) -> str | None:
    """Brussels, Wallonia or Flanders for a Belgian postal code; None for anything else."""
    code = (postal_code or "").strip()
    if len(code) != 4 or not (code.isascii() and code.isdigit()):
        return None
    number = int(code)
    for low, high, name in REGIONS:
        if low <= number <= high:
            return name
    return None
