"""The request dependencies of the signals service's routes: the database engine and the key scopes."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals.rules import RulesConfig, load_rules
from shared.runtime import Infrastructure
from shared.web import AdminKey, ReadKey


def _engine(request: Request) -> AsyncEngine:
    infra: Infrastructure = request.app.state.infra
    return infra.engine


Engine = Annotated[AsyncEngine, Depends(_engine)]
Read = ReadKey
# Acknowledging and resolving is the credit team's decision, not a reader's: it needs `admin`.
Admin = AdminKey


@functools.lru_cache(maxsize=4)
def rules_at(path: Path | None) -> RulesConfig:
    """The rules file is read once, like the consumer reads it once at start-up."""
    return load_rules(path)


def _rules(request: Request) -> RulesConfig:
    infra: Infrastructure = request.app.state.infra
    return rules_at(infra.settings.rules_file)


Rules = Annotated[RulesConfig, Depends(_rules)]
