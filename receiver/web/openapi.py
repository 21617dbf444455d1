"""The OpenAPI document of the history API, served at /api/v1/openapi.json.

Generated from the pydantic models that declare the query parameters (``receiver.query_params``),
the request bodies and the responses (``receiver.web.api``): every enum, limit and column is
written there once. Only the paths and their prose are here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from receiver.query_params import AlertsQuery, StatsQuery
from receiver.web.api_models import (
    AckBody,
    Acknowledged,
    AlertDetail,
    AlertPage,
    BulkAckBody,
    Error,
    Stats,
)

REF = "#/components/schemas/{model}"
_ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer"}}


class _Schema(GenerateJsonSchema):
    """No title on every property: it only repeats the property's name."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template=REF, schema_generator=_Schema)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields as OpenAPI parameters; a list is repeated (or comma-separated)."""
    schema = schema_of(model)
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description")
        if "anyOf" in prop:  # X | None: an absent parameter is None, it is never null
            (present,) = [s for s in prop.pop("anyOf") if s != {"type": "null"}]
            prop = {**present, **{k: v for k, v in prop.items() if v is not None}}
        parameter = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "description": description,
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def document(max_range_days: int) -> dict[str, Any]:
    models: list[type[BaseModel]] = []

    def content(model: type[BaseModel]) -> dict[str, Any]:
        models.append(model)
        return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}

    def operation(
        summary: str,
        ok: type[BaseModel],
        ok_description: str,
        *,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        one_alert: bool = False,
        description: str | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {"summary": summary}
        if description:
            op["description"] = description
        parameters = ([_ALERT_ID] if one_alert else []) + (query_parameters(query) if query else [])
        if parameters:
            op["parameters"] = parameters
        if body:
            op["requestBody"] = {"required": True, "content": content(body)}
        errors = {
            "400": "A parameter is wrong; the message names it.",
            "401": "Missing or wrong token. Whenever any token is configured, reads need the "
            "read or write token and writes need the write token.",
            "404": "No such alert." if one_alert else None,
            "503": "PostgreSQL is unavailable, or the query ran past its statement timeout.",
        }
        op["responses"] = {
            "200": {"description": ok_description, "content": content(ok)},
            **{
                status: {"description": text, "content": content(Error)}
                for status, text in errors.items()
                if text
            },
        }
        return op

    paths = {
        "/api/v1/alerts": {
            "get": operation(
                "Alerts in a time range, newest first, with keyset pagination.",
                AlertPage,
                "A page of alerts.",
                query=AlertsQuery,
            )
        },
        "/api/v1/alerts/{alert_id}": {
            "get": operation(
                "One alert with its lifecycle: notifications, attempts, actions.",
                AlertDetail,
                "The alert.",
                one_alert=True,
            )
        },
        "/api/v1/alerts/{alert_id}/ack": {
            "post": operation(
                "Acknowledge one alert (idempotent).",
                AlertDetail,
                "The acknowledged alert.",
                body=AckBody,
                one_alert=True,
            )
        },
        "/api/v1/alerts/ack": {
            "post": operation(
                "Acknowledge every alert matching a filter (idempotent).",
                Acknowledged,
                "How many were acknowledged now.",
                body=BulkAckBody,
            )
        },
        "/api/v1/stats": {
            "get": operation(
                "Counts per time bucket, times to ack and resolve, noisiest, flapping.",
                Stats,
                "Statistics for the range.",
                query=StatsQuery,
                description=f"The range from..to is at most {max_range_days} days here "
                "(receiver.api.max_range_days); a wider one is a 400 naming the limit.",
            )
        },
    }
    schemas: dict[str, Any] = {}
    for model in models:
        schema = schema_of(model)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "d76-alerting history API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
