"""The console's words in English and Spanish (the two working languages of the Strategy)."""

from __future__ import annotations

LANGUAGES = ("en", "es")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Alliance operator console",
        "overview": "Overview",
        "flow": "Flow",
        "service": "Service",
        "scraped": "Scraped",
        "handled_per_s": "Handled / s",
        "published_per_s": "Published / s",
        "handled": "Handled",
        "consumer_lag": "Consumer lag",
        "outbox_lag_s": "Outbox lag (s)",
        "dead_letters": "Dead letters",
        "approaching": "Deadlines approaching",
        "breached": "Deadlines breached",
        "by_reason": "Dead letters by reason",
        "reason": "Reason",
        "count": "Count",
        "none": "none",
        "find": "Follow a record id or a trace id",
        "go": "Show",
        "at": "Time (UTC)",
        "offset": "+ms",
        "step": "Step",
        "event_type": "Event type",
        "record_id": "Record",
        "markings": "Markings",
        "published": "published",
        "handled_step": "handled",
        "refused": "refused",
        "trace": "Trace",
        "services": "Services",
        "spans": "spans",
        "not_found": "No flow names this id in the trace backend.",
        "backend_down": "A backend did not answer",
        "refreshes": "Refreshes every 10 s.",
        "yes": "yes",
        "no": "no",
    },
    "es": {
        "title": "Consola de operaciones de Alliance",
        "overview": "Resumen",
        "flow": "Flujo",
        "service": "Servicio",
        "scraped": "Recolectado",
        "handled_per_s": "Procesados / s",
        "published_per_s": "Publicados / s",
        "handled": "Procesados",
        "consumer_lag": "Retraso de consumo",
        "outbox_lag_s": "Retraso de salida (s)",
        "dead_letters": "Rechazados (DLQ)",
        "approaching": "Plazos por vencer",
        "breached": "Plazos vencidos",
        "by_reason": "Rechazados por motivo",
        "reason": "Motivo",
        "count": "Cantidad",
        "none": "ninguna",
        "find": "Seguir un identificador de registro o de traza",
        "go": "Mostrar",
        "at": "Hora (UTC)",
        "offset": "+ms",
        "step": "Paso",
        "event_type": "Tipo de evento",
        "record_id": "Registro",
        "markings": "Marcas",
        "published": "publicado",
        "handled_step": "procesado",
        "refused": "rechazado",
        "trace": "Traza",
        "services": "Servicios",
        "spans": "tramos",
        "not_found": "Ningún flujo menciona este identificador en el almacén de trazas.",
        "backend_down": "Un servicio de apoyo no respondió",
        "refreshes": "Se actualiza cada 10 s.",
        "yes": "sí",
        "no": "no",
    },
}


def language(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the browser's preference, then English."""
    if asked in LANGUAGES:
        return asked
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
