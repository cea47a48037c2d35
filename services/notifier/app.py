"""Bootstrap of the notifier service: Routes signals to credit and sales teams: signed webhooks, email, digests, silences."""

from __future__ import annotations

from fastapi import APIRouter

from shared.runtime import ServiceSpec


def router() -> APIRouter:
    return APIRouter(tags=["notifier"])


SERVICE = ServiceSpec(name="notifier", router=router)
