"""Consumer lag of every Alliance consumer group, served for the metrics backend to scrape.

    python -m alliance.runtime.lag_exporter     (ALLIANCE_KAFKA_* as the operators' principal,
                                                 ALLIANCE_HTTP_PORT, default 8106)

``/metrics`` measures at each request (committed against end offsets, see
:class:`alliance.runtime.metrics.ConsumerLagCollector`); ``/health`` answers without touching the
broker. The local stack starts it beside Kafka (``deploy/local/stack.py``), so the backlog of a
service that is stopped is still measured.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alliance.runtime.metrics import ConsumerLagCollector
from alliance.runtime.settings import Settings

DEFAULT_PORT = 8106
log = logging.getLogger("alliance.lag_exporter")


def app(settings: Settings) -> AsgiFastStream:
    """The exporter as an ASGI app (FastStream's, as the services serve theirs), without a broker."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsumerLagCollector(settings))

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        return AsgiResponse(b"ok\n", 200, headers={"content-type": "text/plain"})

    @get(include_in_schema=False)
    async def metrics(scope: Scope) -> AsgiResponse:
        try:  # the collector runs its own event loop: measured in a worker thread
            body = await asyncio.to_thread(generate_latest, registry)
        except Exception as exc:  # the broker did not answer: the scrape fails, visibly
            log.warning("lag not measured: %r", exc)
            return AsgiResponse(f"lag not measured: {exc!r}\n".encode(), 503, headers={"content-type": "text/plain"})
        return AsgiResponse(body, 200, headers={"content-type": CONTENT_TYPE_LATEST})

    return AsgiFastStream(asgi_routes=[("/health", health), ("/metrics", metrics)], logger=log)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    settings = Settings()
    port = settings.http_port or DEFAULT_PORT
    uvicorn.run(app(settings), host=settings.http_host, port=port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
