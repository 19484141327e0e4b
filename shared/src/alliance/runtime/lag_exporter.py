"""Consumer lag of every Alliance consumer group, served for the metrics backend to scrape.

    python -m alliance.runtime.lag_exporter     (ALLIANCE_KAFKA_* as the operators' principal,
                                                 ALLIANCE_HTTP_PORT, default 8106)

``/metrics`` measures at each request (committed against end offsets, see
:class:`alliance.runtime.metrics.ConsumerLagCollector`); ``/health`` answers without touching the
broker. The local stack starts it beside Kafka (``deploy/local/stack.py``), so the backlog of a
service that is stopped is still measured.
"""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alliance.runtime.metrics import ConsumerLagCollector
from alliance.runtime.settings import Settings

DEFAULT_PORT = 8106
log = logging.getLogger("alliance.lag_exporter")


def server(settings: Settings) -> ThreadingHTTPServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsumerLagCollector(settings))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                self._reply(200, b"ok\n", "text/plain")
            elif self.path.split("?")[0] == "/metrics":
                try:
                    self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                except Exception as exc:  # the broker did not answer: the scrape fails, visibly
                    log.warning("lag not measured: %r", exc)
                    self._reply(503, f"lag not measured: {exc!r}\n".encode(), "text/plain")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((settings.http_host, settings.http_port or DEFAULT_PORT), Handler)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    settings = Settings()
    httpd = server(settings)
    log.info("serving consumer lag on %s:%s", *httpd.server_address[:2])
    httpd.serve_forever()


if __name__ == "__main__":
    main()
