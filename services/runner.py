"""Runs one service (`serve`) or all of them (`up`) in one process, with a graceful shutdown.

Start: migrate the database, start the bus, create the topics, start each service's consumers.
Stop (SIGTERM/SIGINT): uvicorn stops accepting requests and finishes those in flight; each consumer
finishes its batch in hand and commits it; then the bus and the database connections are closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from services.console.app import install as install_console
from services.ingest.app import SERVICE as INGEST
from services.notifier.app import SERVICE as NOTIFIER
from services.request_timeouts import RequestDeadlines, protocol_with
from services.signals.app import SERVICE as SIGNALS
from shared.bus.dlq import DeadLetterGauge
from shared.runtime import Infrastructure, ServiceSpec, open_infrastructure
from shared.settings import Settings
from shared.tracing import configure_tracing
from shared.web import BodySizeLimit, RequestMetrics, install_error_handlers, ops_router

log = logging.getLogger(__name__)

SERVICES: dict[str, ServiceSpec] = {spec.name: spec for spec in (INGEST, SIGNALS, NOTIFIER)}
DEFAULT_PORTS = {"up": 8000, "ingest": 8001, "signals": 8002, "notifier": 8003}


class Workers:
    """The consumer tasks of a process; a crashed one makes the process not ready."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, infra: Infrastructure, specs: Sequence[ServiceSpec]) -> None:
        for spec in specs:
            for worker in spec.workers(infra):
                name = f"{spec.name}:{worker.group_id}"
                self.tasks[name] = asyncio.create_task(worker.run(self.stop), name=name)
        gauge = DeadLetterGauge(infra.bus)
        self.tasks[gauge.group_id] = asyncio.create_task(gauge.run(self.stop), name=gauge.group_id)

    def status(self) -> dict[str, str]:
        status = {}
        for name, task in self.tasks.items():
            if not task.done():
                status[name] = "ok"
            elif task.cancelled():
                status[name] = "cancelled"
            else:
                error = task.exception()
                status[name] = f"stopped: {type(error).__name__}" if error else "stopped"
        return status

    def ended(self) -> list[str]:
        """The tasks that ended although the process is not stopping. They retry through outages, so
        they end only on a bug: the process will not recover by itself."""
        if self.stop.is_set():
            return []
        return [name for name, task in self.tasks.items() if task.done()]

    async def shutdown(self) -> None:
        self.stop.set()
        for name, result in zip(
            self.tasks, await asyncio.gather(*self.tasks.values(), return_exceptions=True), strict=True
        ):
            if isinstance(result, BaseException):
                log.error("consumer %s ended with %s", name, type(result).__name__, exc_info=result)


def create_app(settings: Settings, names: Sequence[str]) -> FastAPI:
    """The ASGI app of the services `names` (all three for `earlywarning up`)."""
    specs = [SERVICES[name] for name in names]
    title = "Early Warning" if len(specs) > 1 else f"Early Warning {specs[0].name}"
    workers = Workers()
    infra_holder: list[Infrastructure] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_infrastructure(settings, client_id=f"earlywarning-{'-'.join(names)}") as infra:
            infra_holder.append(infra)
            app.state.infra = infra
            workers.start(infra, specs)
            log.info("started %s (%s bus)", ", ".join(names), infra.bus.kind)
            try:
                yield
            finally:
                await workers.shutdown()
                log.info("stopped %s", ", ".join(names))

    async def readiness() -> dict[str, str]:
        if not infra_holder:
            return {"startup": "in progress"}
        return {**await infra_holder[0].check(), **workers.status()}

    configure_tracing("earlywarning" if len(names) > 1 else f"earlywarning-{names[0]}")
    app = FastAPI(
        title=title,
        version="0.1.0",
        description="Early Warning: an open early-warning system for credit management.",
        lifespan=lifespan,
        # FastAPI's own server span per request continues the caller's `traceparent`; the spans of each
        # dependency and of serialisation would triple the spans of an intake for little.
        telemetry={"operation_spans": False},
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestMetrics, service="+".join(names))
    app.include_router(ops_router(readiness, workers.ended))
    for spec in specs:
        app.include_router(spec.router())
    if SIGNALS in specs:
        # The console's pages read the signals service's tables: it is served wherever that service is.
        install_console(app)
    return app


def run(settings: Settings, names: Sequence[str], host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        create_app(settings, names),
        host=host,
        port=port,
        # Uvicorn's own protocol never times out a client that trickles its request: see request_timeouts.
        http=protocol_with(RequestDeadlines.from_settings(settings)),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    uvicorn.Server(config).run()
