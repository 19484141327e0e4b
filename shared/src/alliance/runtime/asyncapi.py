"""AsyncAPI 3.0 documents generated from a service's declared contracts (payloads as JSON Schema)."""

from __future__ import annotations

from typing import Any

from alliance.contracts.base import EventData
from alliance.contracts.limits import limits_document
from alliance.contracts.markings import MARKING_ATTRS


def _message(model: type[EventData], schemas: dict[str, Any]) -> dict[str, Any]:
    """The message of one event type; the types its payload refers to are added to ``schemas``."""
    payload = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(payload.pop("$defs", {}))
    header_props: dict[str, Any] = {
        f"ce_{n}": {"type": "string"} for n in ("id", "source", "type", "specversion", "time", "subject")
    }
    header_props.update({f"ce_{n}": {"type": "string"} for n in MARKING_ATTRS})
    header_props["ce_type"] = {"const": model.EVENT_TYPE}
    header_props["traceparent"] = {"type": "string"}
    header_props["content-type"] = {"const": "application/json"}
    return {
        "name": model.EVENT_TYPE,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else model.__name__,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", *[f"ce_{n}" for n in MARKING_ATTRS]],
            "properties": header_props,
        },
        "payload": payload,
    }


def document(
    service: str,
    version: str,
    receives: dict[str, list[type[EventData]]],
    sends: dict[str, list[type[EventData]]],
    bootstrap: str,
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document; a topic with ``{agency}`` in it is one channel per registered agency."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for action, table in (("receive", receives), ("send", sends)):
        for topic, models in table.items():
            channel_id = topic.replace(".", "_").replace("{", "").replace("}", "")
            channel = channels.setdefault(channel_id, {"address": topic, "messages": {}})
            if "{agency}" in topic:
                channel["parameters"] = {
                    "agency": {
                        "description": "an agency's id in the registry: its own topic, written or read by it alone"
                    }
                }
            for model in models:
                key = model.__name__
                messages[key] = _message(model, schemas)
                channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
            operations[f"{action}_{channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m.__name__}"} for m in models],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Alliance {service} service",
            "version": version,
            "description": "CloudEvents 1.0 in Kafka binary mode; markings as ce_ extension headers. Each agency "
            "writes its own intake topic; records over the limits in x-alliance-limits are refused (one dead letter, "
            "one rejection on alliance.replies.{agency}); facts reach agencies on alliance.deliveries.{agency} "
            "as their markings allow.",
            "x-alliance-limits": limits_document(),
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": bootstrap, "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
