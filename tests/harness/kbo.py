"""KBO/BCE Open Data extracts made to order, in the published format, for tests and the benchmark.

The format is the real one (see tests/data/kbo): a header row, text quoted, empty values and dates bare,
dates `dd-mm-yyyy`, enterprise numbers `0403.170.701`, establishment numbers `2.190.171.611`.

    write_full(folder, 140, date(2025, 10, 3), [Enterprise(enterprise_number(1), names=["Acme NV"])])
    write_update(folder, 147, date(2025, 10, 11), changed=[...], removed=[enterprise_number(2)])

`write_generated_full` streams a register of any size in the proportions of the real one, for the benchmark.
"""

from __future__ import annotations

import random
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_UPDATE = REPO_ROOT / "tests" / "data" / "kbo" / "KboOpenData_0147_2025_10_12_Update"
CODES = REAL_UPDATE / "code.csv"
"""The code table the tests' extracts carry (a subset of the real one, see tests/data/kbo/README.md)."""

HEADERS: dict[str, tuple[str, ...]] = {
    "enterprise": (
        "EnterpriseNumber",
        "Status",
        "JuridicalSituation",
        "TypeOfEnterprise",
        "JuridicalForm",
        "JuridicalFormCAC",
        "StartDate",
    ),
    "denomination": ("EntityNumber", "Language", "TypeOfDenomination", "Denomination"),
    "address": (
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
        "ExtraAddressInfo",
        "DateStrikingOff",
    ),
    "activity": ("EntityNumber", "ActivityGroup", "NaceVersion", "NaceCode", "Classification"),
    "establishment": ("EstablishmentNumber", "StartDate", "EnterpriseNumber"),
    "contact": ("EntityNumber", "EntityContact", "ContactType", "Value"),
    "branch": ("Id", "StartDate", "EnterpriseNumber"),
}
DELETE_HEADERS = {
    "enterprise": "EnterpriseNumber",
    "establishment": "EstablishmentNumber",
    "branch": "Id",
}

Value = str | date | None


def enterprise_number(n: int) -> str:
    """A valid enterprise number, dotted, different for each `n` (0 <= n < 20,000,000)."""
    base = 2_000_000 + n  # 0200.000.0xx onwards: clear of the real extract's numbers in the tests
    digits = f"{base:08d}{97 - base % 97:02d}"
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def company_id(number: str) -> str:
    """`0403.170.701` -> `BE0403170701`."""
    return "BE" + number.replace(".", "")


def establishment_number(n: int) -> str:
    digits = f"2{n:09d}"
    return f"{digits[0]}.{digits[1:4]}.{digits[4:7]}.{digits[7:]}"


def cell(value: Value) -> str:
    """One CSV cell as the register writes it: text quoted, dates and empty values bare."""
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value:%d-%m-%Y}"
    return '"' + value.replace('"', '""') + '"'


def line(values: Iterable[Value]) -> str:
    return ",".join(cell(value) for value in values) + "\n"


@dataclass
class Office:
    zipcode: str = "9000"
    municipality: str = "Gent"
    street: str = "Veldstraat"
    house_number: str = "1"
    box: str | None = None
    country: str | None = None

    def row(self, number: str) -> list[Value]:
        return [
            number,
            "REGO",
            self.country,
            self.country,
            self.zipcode,
            self.municipality,
            self.municipality,
            self.street,
            self.street,
            self.house_number,
            self.box or "",
            "",
            None,
        ]


@dataclass
class Enterprise:
    """One enterprise with everything the register keeps of it (and some it does not)."""

    number: str
    situation: str = "000"
    form: str | None = "610"
    start: date = date(2010, 3, 1)
    kind: str = "2"
    names: list[str] = field(default_factory=lambda: ["Voorbeeld BV"])
    office: Office | None = field(default_factory=Office)
    nace: tuple[str, str] | None = ("46693", "46641")
    """The main NACE-BEL 2008 and 2025 codes."""
    establishments: list[str] = field(default_factory=list)

    def rows(self) -> dict[str, list[list[Value]]]:
        rows: dict[str, list[list[Value]]] = {
            "enterprise": [[self.number, "AC", self.situation, self.kind, self.form, None, self.start]],
            "denomination": [[self.number, "2", "001", name] for name in self.names],
            "address": [self.office.row(self.number)] if self.office else [],
            "activity": [],
            "establishment": [[unit, self.start, self.number] for unit in self.establishments],
            "contact": [[self.number, "ENT", "TEL", "09/123.45.67"]],
        }
        if self.nace:
            rows["activity"] = [
                [self.number, "001", "2008", self.nace[0], "MAIN"],
                [self.number, "001", "2025", self.nace[1], "MAIN"],
                [self.number, "001", "2025", "47111", "SECO"],
            ]
        for unit in self.establishments:
            rows["denomination"].append([unit, "2", "003", f"{self.names[0]} (vestiging)"])
            rows["address"].append(
                [unit, "BAET", None, None, "9000", "Gent", "Gand", "Kouter", "Kouter", "2", "", "", None]
            )
            rows["activity"].append([unit, "003", "2008", self.nace[0] if self.nace else "46693", "MAIN"])
        return rows


def write_meta(folder: Path, number: int, kind: str, snapshot: date) -> None:
    stamp = datetime(snapshot.year, snapshot.month, snapshot.day, 7, 40, 18)
    rows = [
        ["SnapshotDate", f"{snapshot:%d-%m-%Y}"],
        ["ExtractTimestamp", f"{stamp:%d-%m-%Y %H:%M:%S}"],
        ["ExtractType", kind],
        ["ExtractNumber", str(number)],
        ["Version", "1.0.0"],
    ]
    (folder / "meta.csv").write_text(line(["Variable", "Value"]) + "".join(line(r) for r in rows), "utf-8")


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Value]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(line(header))
        fh.writelines(line(row) for row in rows)


def _collect(enterprises: Iterable[Enterprise]) -> dict[str, list[list[Value]]]:
    tables: dict[str, list[list[Value]]] = {name: [] for name in HEADERS}
    for enterprise in enterprises:
        for name, rows in enterprise.rows().items():
            tables[name].extend(rows)
    return tables


def write_full(folder: Path, number: int, snapshot: date, enterprises: Iterable[Enterprise]) -> Path:
    """A full extract of `enterprises` in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder, number, "full", snapshot)
    shutil.copyfile(CODES, folder / "code.csv")
    for name, rows in _collect(enterprises).items():
        _write(folder / f"{name}.csv", HEADERS[name], rows)
    return folder


def write_update(
    folder: Path,
    number: int,
    snapshot: date,
    changed: Iterable[Enterprise] = (),
    removed: Iterable[str] = (),
    extra: dict[str, list[list[Value]]] | None = None,
) -> Path:
    """An update extract: every table of the `changed` enterprises deleted and inserted again, the `removed`
    ones (numbers) deleted; `extra` adds raw rows to `<table>_insert.csv` (broken rows, for instance)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder, number, "update", snapshot)
    shutil.copyfile(CODES, folder / "code.csv")
    changed = list(changed)
    gone = [*(e.number for e in changed), *removed]
    inserts = _collect(changed)
    units = [unit for e in changed for unit in e.establishments]
    for name, header in HEADERS.items():
        if name == "establishment":
            keys = units
        elif name == "branch":
            keys = []
        else:
            keys = gone + units if name in ("denomination", "address", "activity", "contact") else gone
        _write(folder / f"{name}_delete.csv", [DELETE_HEADERS.get(name, "EntityNumber")], ([k] for k in keys))
        _write(folder / f"{name}_insert.csv", header, [*inserts[name], *(extra or {}).get(name, [])])
    return folder


def zip_extract(folder: Path, target: Path, *, subfolder: bool = False) -> Path:
    """The extract in `folder` as a zip, like the published ones (optionally inside a folder of its own)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}" if subfolder else path.name)
    return target


# --- a register of any size, for the benchmark --------------------------------------------------------

# Rows per enterprise in a real full extract (1.9 M enterprises, 46.8 M rows): establishments 0.9,
# names 1.75, addresses 1.45, contacts 0.37, activities 18.5 (most of them of establishments and secondary).
SITUATIONS = ["000"] * 97 + ["012", "048", "091"]
FORMS = ["610", "014", "612", "017", "015", None]
NACE_2008 = ["46693", "56101", "62010", "43910", "47111", "68201", "70220", "41201", "49410", "86210"]
NACE_2025 = ["46641", "56111", "62100", "43410", "47110", "68201", "70200", "41001", "49410", "86210"]
TOWNS = [
    ("9000", "Gent"),
    ("2000", "Antwerpen"),
    ("1000", "Brussel"),
    ("4000", "Liège"),
    ("8500", "Kortrijk"),
]


def _enterprise_lines(first: int, count: int, seed: int) -> Iterator[dict[str, list[str]]]:
    """Per enterprise, its CSV lines per table; random but repeatable."""
    rng = random.Random(seed)
    unit = first * 2
    for n in range(first, first + count):
        number = enterprise_number(n)
        natural = rng.random() < 0.4
        start = date(1950 + rng.randrange(75), 1 + rng.randrange(12), 1 + rng.randrange(28))
        form = None if natural else rng.choice(FORMS)
        lines: dict[str, list[str]] = {name: [] for name in HEADERS}
        lines["enterprise"].append(
            line([number, "AC", rng.choice(SITUATIONS), "1" if natural else "2", form, None, start])
        )
        name = f"Onderneming {n}" if not natural else f"Janssens, Jan {n}"
        lines["denomination"].append(line([number, rng.choice("0122"), "001", name]))
        if rng.random() < 0.5:
            lines["denomination"].append(line([number, "2", "003", f"Handelsnaam {n}"]))
        if not natural:
            zipcode, town = rng.choice(TOWNS)
            street = f"Straat {rng.randrange(500)}"
            lines["address"].append(
                line([number, "REGO", None, None, zipcode, town, town, street, street, "12", "", "", None])
            )
        units = 1 if rng.random() < 0.75 else 0
        units += 1 if rng.random() < 0.15 else 0
        version_codes = rng.randrange(len(NACE_2008))
        for group in ("001", "003") if rng.random() < 0.5 else ("001",):
            lines["activity"].append(line([number, group, "2008", NACE_2008[version_codes], "MAIN"]))
            lines["activity"].append(line([number, group, "2025", NACE_2025[version_codes], "MAIN"]))
            lines["activity"].append(line([number, group, "2003", "51900", "MAIN"]))
        for _ in range(rng.randrange(2, 6)):
            other = rng.randrange(len(NACE_2008))
            lines["activity"].append(line([number, "001", "2008", NACE_2008[other], "SECO"]))
            lines["activity"].append(line([number, "001", "2025", NACE_2025[other], "SECO"]))
        if rng.random() < 0.37:
            lines["contact"].append(line([number, "ENT", "TEL", f"09/{n % 1000:03d}.00.00"]))
        for _ in range(units):
            unit += 1
            est = establishment_number(unit)
            lines["establishment"].append(line([est, start, number]))
            zipcode, town = rng.choice(TOWNS)
            lines["address"].append(
                line([est, "BAET", None, None, zipcode, town, town, "Markt", "Marché", "1", "", "", None])
            )
            if rng.random() < 0.3:
                lines["denomination"].append(line([est, "2", "003", f"Vestiging {unit}"]))
            for _ in range(rng.randrange(2, 6)):
                code = rng.randrange(len(NACE_2008))
                lines["activity"].append(line([est, "003", "2008", NACE_2008[code], "MAIN"]))
                lines["activity"].append(line([est, "003", "2025", NACE_2025[code], "MAIN"]))
        yield lines


def write_generated_full(
    folder: Path, number: int, snapshot: date, enterprises: int, seed: int = 7
) -> dict[str, int]:
    """A full extract of `enterprises` generated enterprises, streamed to disk; rows written per table."""
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder, number, "full", snapshot)
    shutil.copyfile(CODES, folder / "code.csv")
    files = {name: (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") for name in HEADERS}
    counts = dict.fromkeys(HEADERS, 0)
    try:
        for name, fh in files.items():
            fh.write(line(HEADERS[name]))
        for lines in _enterprise_lines(0, enterprises, seed):
            for name, rows in lines.items():
                if rows:
                    files[name].writelines(rows)
                    counts[name] += len(rows)
    finally:
        for fh in files.values():
            fh.close()
    return counts


def write_generated_update(
    folder: Path, number: int, snapshot: date, enterprises: int, rows: int, seed: int = 11
) -> int:
    """An update extract of about `rows` rows over all files: enterprises of the generated register, each
    with every table deleted and inserted again (some in a new situation); the rows written."""
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder, number, "update", snapshot)
    shutil.copyfile(CODES, folder / "code.csv")
    rng = random.Random(seed)
    deletes: dict[str, list[str]] = {name: [] for name in HEADERS}
    inserts: dict[str, list[str]] = {name: [] for name in HEADERS}
    total, seen = 0, set()
    while total < rows and len(seen) < enterprises:
        n = rng.randrange(enterprises)
        if n in seen:
            continue
        seen.add(n)
        lines = next(_enterprise_lines(n, 1, seed + n))
        for name in ("enterprise", "denomination", "address", "activity", "contact"):
            deletes[name].append(line([enterprise_number(n)]))
        deletes["establishment"] += [row.split(",", 1)[0] + "\n" for row in lines["establishment"]]
        for name, found in lines.items():
            inserts[name].extend(found)
        total = sum(len(v) for v in deletes.values()) + sum(len(v) for v in inserts.values())
    for name, header in HEADERS.items():
        delete_header = line([DELETE_HEADERS.get(name, "EntityNumber")])
        _write_lines(folder / f"{name}_delete.csv", delete_header, deletes[name])
        _write_lines(folder / f"{name}_insert.csv", line(header), inserts[name])
    return total


def _write_lines(path: Path, header: str, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        fh.writelines(lines)
