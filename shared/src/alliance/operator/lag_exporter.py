"""Consumer lag of every Alliance consumer group, served for the metrics backend to scrape.

    python -m alliance.operator.lag_exporter    (ALLIANCE_KAFKA_* as the operators' principal,
                                                 ALLIANCE_HTTP_PORT, default 8106)

``/metrics`` serves the last measurement (committed against end offsets every
``ALLIANCE_LAG_REFRESH_SECONDS``, through one kept connection, see
:class:`alliance.operator.lag.ConsumerLagCollector`): a scrape opens no connection to the broker.
``/health`` answers without touching the broker. The local stack starts it beside Kafka
(``deploy/local/stack.py``), so the backlog of a service that is stopped is still measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alliance.operator.lag import ConsumerLagCollector
from alliance.runtime.settings import Settings

DEFAULT_PORT = 8106
log = logging.getLogger("alliance.lag_exporter")


def app(settings: Settings, collector: ConsumerLagCollector) -> AsgiFastStream:
    """The exporter as an ASGI app (FastStream's, as the services serve theirs), without a broker."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        return AsgiResponse(b"ok\n", 200, headers={"content-type": "text/plain"})

    @get(include_in_schema=False)
    async def metrics(scope: Scope) -> AsgiResponse:
        try:
            body = generate_latest(registry)
        except Exception as exc:  # the broker did not answer: the scrape fails, visibly
            log.warning("lag not measured: %r", exc)
            return AsgiResponse(f"lag not measured: {exc!r}\n".encode(), 503, headers={"content-type": "text/plain"})
        return AsgiResponse(body, 200, headers={"content-type": CONTENT_TYPE_LATEST})

    return AsgiFastStream(asgi_routes=[("/health", health), ("/metrics", metrics)], logger=log)


async def serve(settings: Settings) -> None:
    """Measure in the background and serve the last figures until stopped (SIGINT, SIGTERM)."""
    collector = ConsumerLagCollector(settings, interval=settings.lag_refresh_seconds)
    measuring = asyncio.create_task(collector.run(), name="consumer-lag")
    port = settings.http_port or DEFAULT_PORT
    config = uvicorn.Config(
        app(settings, collector),
        host=settings.http_host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",  # no broker to start: FastStream's lifespan would refuse to start without one
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        measuring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await measuring
        await collector.kafka.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
