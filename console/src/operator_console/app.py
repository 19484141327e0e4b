"""The operator console: a read-only web view served from the stack (FastAPI, Jinja2 templates).

    /                 live overview per service (throughput, lag, dead letters, deadlines)
    /flow?id=…        the flow of a record id or a trace id across services, as a timeline
    /health           answers when the console runs (the backends may still be down)

``?lang=es`` (or the browser's language) shows it in Spanish. It reads only the metrics backend and
the trace backend; it holds no credentials and writes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from alliance.operator.flows import Flow, TraceBackend, TraceBackendError
from alliance.runtime.settings import Settings
from operator_console.i18n import WORDS, language
from operator_console.metrics import QUERIES, MetricsBackend, MetricsBackendError

HERE = Path(__file__).parent
TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
DEFAULT_PORT = 8100

LangParam = Annotated[str | None, Query(alias="lang")]
AcceptLanguage = Annotated[str | None, Header()]


def timeline(flow: Flow) -> list[dict[str, Any]]:
    """Each step with its bar on a 0-100 scale of the flow's duration (for the timeline chart)."""
    end = max((s.offset_ms + s.duration_ms for s in flow.steps), default=0.0) or 1.0
    return [
        {
            "step": s,
            "left": round(100 * s.offset_ms / end, 2),
            "width": max(round(100 * s.duration_ms / end, 2), 0.4),
        }
        for s in flow.steps
    ]


def create_app(metrics: MetricsBackend, traces: TraceBackend) -> FastAPI:
    app = FastAPI(title="Alliance operator console", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, lang: str, **context: Any) -> HTMLResponse:
        words = WORDS[lang]
        return templates.TemplateResponse(request, name, {"w": words, "lang": lang, **context})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def overview(request: Request, lang: LangParam = None, accept_language: AcceptLanguage = None) -> Any:
        chosen = language(lang, accept_language)
        try:
            found, error = await metrics.overview(), None
        except MetricsBackendError as exc:
            found, error = None, str(exc)
        return page(request, "overview.html", chosen, overview=found, columns=list(QUERIES), error=error)

    @app.get("/flow", response_class=HTMLResponse)
    async def flow(
        request: Request,
        id: Annotated[str, Query(max_length=200)] = "",
        lang: LangParam = None,
        accept_language: AcceptLanguage = None,
    ) -> Any:
        chosen = language(lang, accept_language)
        asked = id.strip()
        flows: list[Flow] = []
        error = None
        try:
            if TRACE_ID.match(asked):
                one = await traces.flow(asked)
                flows = [one] if one else []
            elif asked:
                flows = await traces.case(asked)
        except TraceBackendError as exc:
            error = str(exc)
        shown = [{"flow": f, "rows": timeline(f)} for f in flows]
        return page(request, "flow.html", chosen, asked=asked, flows=shown, error=error)

    return app


def main() -> None:
    settings = Settings()
    app = create_app(MetricsBackend(settings.metrics_query_url), TraceBackend(settings.trace_query_url))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port or DEFAULT_PORT, log_level="warning")
