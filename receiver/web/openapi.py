"""The OpenAPI 3 document of the history API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from receiver.query_params import DEFAULT_LIMIT, MAX_LIMIT, SEVERITIES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _query(
    name: str, description: str, schema: dict[str, Any], *, explode: bool = False
) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if explode:
        parameter.update(style="form", explode=True)
    return parameter


_TIME = {
    "type": "string",
    "pattern": (
        r"^(-\d+[smhdw]|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)$"
    ),
}
FILTERS = [
    _query(
        "from", "Start of the range: ISO 8601 or relative (-24h). Default: 24 h before `to`.", _TIME
    ),
    _query("to", "End of the range: ISO 8601 or relative. Default: now.", _TIME),
    _query(
        "severity",
        "One or several severities (repeat or comma-separate).",
        {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}},
        explode=True,
    ),
    _query(
        "source",
        "Sources, e.g. RiskGuard.",
        {"type": "array", "items": {"type": "string"}},
        explode=True,
    ),
    _query(
        "alertname", "Alert names.", {"type": "array", "items": {"type": "string"}}, explode=True
    ),
    _query("status", "firing or resolved.", {"type": "string", "enum": ["firing", "resolved"]}),
    _query("acknowledged", "true or false.", {"type": "string", "enum": ["true", "false"]}),
    _query(
        "label",
        "Label matchers name:value, e.g. exchange:Upbit (repeat for several).",
        {"type": "array", "items": {"type": "string", "pattern": "^[^:]+:.*$"}},
        explode=True,
    ),
]
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ALERT = {
    "type": "object",
    "required": [
        "id",
        "timestamp",
        "severity",
        "source",
        "title",
        "message",
        "acknowledged",
        "fingerprint",
        "alertname",
        "status",
        "starts_at",
        "labels",
        "annotations",
    ],
    "properties": {
        "id": {"type": "integer"},
        "timestamp": {"type": "string", "format": "date-time"},
        "severity": {"type": "string"},
        "source": {"type": "string"},
        "title": {"type": "string"},
        "message": {"type": "string"},
        "metadata": {"type": "object", "nullable": True},
        "acknowledged": {"type": "boolean"},
        "acknowledged_at": {"type": "string", "format": "date-time", "nullable": True},
        "acknowledged_by": {"type": "string", "nullable": True},
        "fingerprint": {"type": "string"},
        "alertname": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time", "nullable": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "generator_url": {"type": "string"},
        "receiver": {"type": "string"},
    },
}
_ACK_PROPERTIES: dict[str, Any] = {
    "by": {"type": "string", "minLength": 1, "maxLength": 200},
    "comment": {"type": "string", "maxLength": 2000},
}
_ACK_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["by"],
    "properties": {
        "by": {"type": "string", "minLength": 1, "maxLength": 200},
        "comment": {"type": "string", "maxLength": 2000},
    },
}


def document() -> dict[str, Any]:
    read_errors = {
        "400": _error("A parameter is wrong; the message names it."),
        "401": _error(
            "Missing or wrong token. Whenever any token is configured, reads need the read or "
            "write token and writes need the write token."
        ),
        "503": _error("PostgreSQL is unavailable, or the query ran past its statement timeout."),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "d76-alerting history API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Alert": _ALERT,
                "AlertDetail": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Alert"},
                        {
                            "type": "object",
                            "required": ["notifications", "actions"],
                            "properties": {
                                "notifications": {"type": "array", "items": {"type": "object"}},
                                "actions": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    ]
                },
            },
        },
        "security": _BEARER,
        "paths": {
            "/api/v1/alerts": {
                "get": {
                    "summary": "Alerts in a time range, newest first, with keyset pagination.",
                    "parameters": [
                        *FILTERS,
                        _query(
                            "limit",
                            f"Page size (default {DEFAULT_LIMIT}).",
                            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        ),
                        _query("cursor", "next_cursor of the previous page.", {"type": "string"}),
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of alerts.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["items", "next_cursor"],
                                        "properties": {
                                            "items": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Alert"},
                                            },
                                            "next_cursor": {"type": "string", "nullable": True},
                                        },
                                    }
                                }
                            },
                        },
                        **read_errors,
                    },
                }
            },
            "/api/v1/alerts/{alert_id}": {
                "get": {
                    "summary": "One alert with its lifecycle: notifications, attempts, actions.",
                    "parameters": [
                        {
                            "name": "alert_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The alert.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/AlertDetail"}
                                }
                            },
                        },
                        "404": _error("No such alert."),
                        **read_errors,
                    },
                }
            },
            "/api/v1/alerts/{alert_id}/ack": {
                "post": {
                    "summary": "Acknowledge one alert (idempotent).",
                    "parameters": [
                        {
                            "name": "alert_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ACK_BODY}},
                    },
                    "responses": {
                        "200": {
                            "description": "The acknowledged alert.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/AlertDetail"}
                                }
                            },
                        },
                        "404": _error("No such alert."),
                        **read_errors,
                    },
                }
            },
            "/api/v1/alerts/ack": {
                "post": {
                    "summary": "Acknowledge every alert matching a filter (idempotent).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["by", "filter"],
                                    "properties": {
                                        **_ACK_PROPERTIES,
                                        "filter": {
                                            "type": "object",
                                            "minProperties": 1,
                                            "description": "Query parameters of GET /alerts.",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "How many were acknowledged now.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["acknowledged"],
                                        "properties": {"acknowledged": {"type": "integer"}},
                                    }
                                }
                            },
                        },
                        **read_errors,
                    },
                }
            },
            "/api/v1/stats": {
                "get": {
                    "summary": "Counts per hour or day, times to ack and resolve, noisy, flapping.",
                    "description": "The range from..to is at most receiver.api.max_range_days "
                    "(92 by default); a wider one is a 400 naming the limit.",
                    "parameters": [
                        *FILTERS,
                        _query(
                            "bucket",
                            "hour (default) or day.",
                            {"type": "string", "enum": ["hour", "day"]},
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Statistics for the range.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": [
                                            "total",
                                            "by_severity",
                                            "by_source",
                                            "by_alertname",
                                            "time_to_ack_seconds",
                                            "time_to_resolve_seconds",
                                            "noisiest",
                                            "flapping",
                                            "start",
                                            "end",
                                            "bucket",
                                        ],
                                    }
                                }
                            },
                        },
                        **read_errors,
                    },
                }
            },
        },
    }
