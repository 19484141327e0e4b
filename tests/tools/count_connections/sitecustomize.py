"""Test instrument: counts the TCP connections a process opens to one port (put on PYTHONPATH).

``ALLIANCE_TEST_CONNECTIONS_LOG=<file>`` and ``ALLIANCE_TEST_CONNECTIONS_PORT=<port>``: every
connection the event loop opens to that port appends one line to the file, so a test can count the
Kafka connections a running service opens while it does something (e.g. is scraped). Nothing else
changes; unset, this module does nothing.
"""

from __future__ import annotations

import asyncio.base_events
import os
import time
from typing import Any

_LOG = os.environ.get("ALLIANCE_TEST_CONNECTIONS_LOG")
_PORT = int(os.environ.get("ALLIANCE_TEST_CONNECTIONS_PORT", "0"))

if _LOG and _PORT:
    _original = asyncio.base_events.BaseEventLoop.create_connection

    async def _counted(self: Any, protocol_factory: Any, host: Any = None, port: Any = None, **kw: Any) -> Any:
        if port is not None and int(port) == _PORT:
            with open(_LOG, "a") as log:  # noqa: ASYNC230 - a test instrument, one short line
                log.write(f"{time.time():.3f} {host}:{port}\n")
        return await _original(self, protocol_factory, host, port, **kw)

    asyncio.base_events.BaseEventLoop.create_connection = _counted  # type: ignore[method-assign]
