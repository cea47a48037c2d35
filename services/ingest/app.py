"""Bootstrap of the ingest service: HTTP intake of observations, orders, portfolio, gazette publications
and bureau webhooks, validated and published onto the bus."""

from __future__ import annotations

from services.ingest.api import router
from shared.runtime import ServiceSpec

SERVICE = ServiceSpec(name="ingest", router=router)
