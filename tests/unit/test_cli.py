"""`earlywarning --help` and each sub-command's help explain themselves."""

from __future__ import annotations

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
