"""The OpenAPI document without a database: its enums and limits are the code's constants, the
hand-written parsing agrees with the models it is generated from, and it names every route."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs  # the validator schemathesis checks responses with
import pytest
from flask import Flask

from receiver import query_params
from receiver.errors import BadRequest, NotFound
from receiver.query_params import Params, parse_filter, parse_page
from receiver.store import history
from receiver.web import api, api_models
from receiver.web.openapi import document

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SPEC = document(max_range_days=92)


def parameters(path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in SPEC["paths"][path]["get"]["parameters"]}


def schema(name: str) -> dict[str, Any]:
    return SPEC["components"]["schemas"][name]


def test_parameter_enums_and_limits_are_the_codes_constants() -> None:
    alerts, stats = parameters("/api/v1/alerts"), parameters("/api/v1/stats")
    assert set(alerts) == query_params.FILTER_PARAMS | query_params.PAGE_PARAMS
    assert set(stats) == query_params.FILTER_PARAMS | {"bucket"}
    assert set(alerts) | set(stats) == api.QUERY_PARAMS
    for params in (alerts, stats):
        assert params["severity"]["schema"]["items"]["enum"] == list(query_params.SEVERITIES)
        assert params["status"]["schema"]["enum"] == list(query_params.STATUSES)
        assert params["acknowledged"]["schema"]["enum"] == list(query_params.TRUE_FALSE)
        assert params["from"]["schema"]["pattern"] == query_params.TIME_PATTERN
        assert params["to"]["schema"]["pattern"] == query_params.TIME_PATTERN
        for name, parameter in params.items():
            assert parameter["in"] == "query" and parameter["required"] is False
            repeats = parameter["schema"].get("type") == "array"
            assert repeats == (name in {"severity", "source", "alertname", "label"})
            if repeats:  # severity=P0&severity=P1 (the parser also splits commas)
                assert (parameter["style"], parameter["explode"]) == ("form", True)
    assert alerts["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": query_params.MAX_LIMIT,
        "default": query_params.DEFAULT_LIMIT,
    }
    assert stats["bucket"]["schema"]["enum"] == list(query_params.BUCKETS)
    assert stats["bucket"]["schema"]["default"] == query_params.DEFAULT_BUCKET
    by = schema("AckBody")["properties"]["by"]
    assert (by["minLength"], by["maxLength"]) == (1, api_models.BY_MAX)
    (comment, _null) = schema("AckBody")["properties"]["comment"]["anyOf"]
    assert comment["maxLength"] == api_models.COMMENT_MAX
    names = schema("BulkAckBody")["properties"]["filter"]["propertyNames"]["enum"]
    assert set(names) == query_params.FILTER_PARAMS
    assert "at most 92 days" in SPEC["paths"]["/api/v1/stats"]["get"]["description"]


def _accepts(name: str, value: str) -> bool:
    try:
        parse_filter(Params({name: [value]}), NOW)
    except BadRequest as exc:
        assert exc.message.startswith(f"{name}: ")
        return False
    return True


def test_the_parser_accepts_what_the_document_enumerates_and_nothing_else() -> None:
    alerts = parameters("/api/v1/alerts")
    for name in ("status", "acknowledged"):
        for value in alerts[name]["schema"]["enum"]:
            assert _accepts(name, value)
        assert not _accepts(name, "maybe")
    for value in alerts["severity"]["schema"]["items"]["enum"]:
        assert _accepts("severity", value)
    assert not _accepts("severity", "P9")
    assert _accepts("label", "exchange:Upbit") and not _accepts("label", "exchange")
    for value in ("-30m", "-7d", "-2w", "2026-11-24T03:00:00Z", "2026-11-24T03:00:00+09:00"):
        assert re.fullmatch(query_params.TIME_PATTERN, value)
        assert _accepts("from", value)
    assert not _accepts("from", "yesterday")
    assert not re.fullmatch(query_params.TIME_PATTERN, "yesterday")


def test_the_page_parser_keeps_the_documented_limit() -> None:
    limit = parameters("/api/v1/alerts")["limit"]["schema"]
    assert parse_page(Params({})).limit == limit["default"]
    for good in (limit["minimum"], limit["maximum"]):
        assert parse_page(Params({"limit": [str(good)]})).limit == good
    for bad in (limit["minimum"] - 1, limit["maximum"] + 1):
        with pytest.raises(BadRequest, match=f"^limit: .* 1 to {limit['maximum']}$"):
            parse_page(Params({"limit": [str(bad)]}))


def test_the_ack_checks_keep_the_documented_lengths() -> None:
    body = schema("AckBody")["properties"]
    longest, comment = body["by"]["maxLength"], body["comment"]["anyOf"][0]["maxLength"]
    assert api.actor({"by": "a" * longest}) == ("a" * longest, None)
    assert api.actor({"by": "a", "comment": "c" * comment})[1] == "c" * comment
    for bad, named in [
        ({"by": ""}, "by:"),
        ({"by": "a" * (longest + 1)}, "by:"),
        ({"by": "a", "comment": "c" * (comment + 1)}, "comment:"),
    ]:
        with pytest.raises(BadRequest, match=f"^{named}"):
            api.actor(bad)
        assert not jsonschema_rs.is_valid(schema("AckBody"), bad)


def test_the_alert_schema_is_the_stores_columns_and_errors_have_the_error_shape() -> None:
    assert tuple(schema("Alert")["properties"]) == history.ALERT_COLUMNS
    assert set(schema("Alert")["required"]) == set(history.ALERT_COLUMNS)
    for error in (BadRequest("from: no"), NotFound("alert 1: no such alert")):
        api_models.Error.model_validate(error.to_json(), strict=True)


def test_every_api_route_is_in_the_document_and_nothing_else() -> None:
    app = Flask(__name__)
    app.register_blueprint(api.bp)
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    assert routes == documented
    for path, method in documented:
        declared = {
            p["name"]
            for p in SPEC["paths"][path][method].get("parameters", ())
            if p["in"] == "path"
        }
        assert declared == set(re.findall(r"{(\w+)}", path))


def test_the_document_is_openapi_3_with_valid_schemas_and_resolvable_refs() -> None:
    assert SPEC["openapi"].startswith("3.")
    assert SPEC["security"] == [{"bearer": []}]
    assert SPEC["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for component in SPEC["components"]["schemas"].values():
        jsonschema_rs.meta.validate(component)
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(SPEC).replace("'", '"'))
    assert refs and set(refs) <= set(SPEC["components"]["schemas"])


def test_the_api_knows_the_severities_of_the_one_table() -> None:
    """A severity added to receiver.model.SEVERITIES is a filter value of the API and the page."""
    from receiver import model

    assert tuple(model.SEVERITIES) == query_params.SEVERITIES
