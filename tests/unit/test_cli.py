"""`earlywarning --help` and each sub-command's help explain themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app

runner = CliRunner()


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "serve", "migrate", "topics", "dlq"):
        assert command in result.output
    assert "EW_DATABASE_URL" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["up", "--help"], "ONE process"),
        (["serve", "--help"], "distributed deployment"),
        (["topics", "--help"], "lag"),
        (["dlq", "list", "--help"], "dead letters"),
        (["dlq", "replay", "--help"], "not replayed yet"),
        (["migrate", "--help"], "migrations"),
    ],
)
def test_subcommand_help(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert expected in " ".join(result.output.split())


def test_serve_refuses_an_unknown_service() -> None:
    result = runner.invoke(app, ["serve", "billing"])
    assert result.exit_code == 2


def test_rules_prints_the_shipped_defaults() -> None:
    result = runner.invoke(app, ["rules"])
    assert result.exit_code == 0
    assert "management_churn:" in result.output
    assert "min_changes: 2" in result.output


def test_rules_check(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("score_drop:\n  min_drop_points: 3\n")
    assert runner.invoke(app, ["rules", "--check", str(good)]).exit_code == 0
    typo = tmp_path / "typo.yaml"
    typo.write_text("score_drop:\n  min_drop_pionts: 3\n")
    result = runner.invoke(app, ["rules", "--check", str(typo)])
    assert result.exit_code == 2
    assert "min_drop_pionts" in result.output


def test_a_server_does_not_start_with_a_bad_rules_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("payment_behaviour:\n  medium_days: -1\n")
    result = runner.invoke(
        app,
        ["up"],
        env={"EW_RULES_FILE": str(bad), "EW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"},
    )
    assert result.exit_code == 2
    assert "medium_days" in result.output
    assert not (tmp_path / "x.db").exists()
