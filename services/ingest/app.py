"""Bootstrap of the ingest service: HTTP intake of observations, orders, portfolio, gazette publications and bureau webhooks, published onto the bus."""

from __future__ import annotations

from fastapi import APIRouter

from shared.runtime import ServiceSpec


def router() -> APIRouter:
    return APIRouter(tags=["ingest"])


SERVICE = ServiceSpec(name="ingest", router=router)
