"""Bootstrap of the signals service: Correlates the intake topics per company over time into risk, opportunity and retention signals."""

from __future__ import annotations

from fastapi import APIRouter

from shared.runtime import ServiceSpec


def router() -> APIRouter:
    return APIRouter(tags=["signals"])


SERVICE = ServiceSpec(name="signals", router=router)
