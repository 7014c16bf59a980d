"""Every read route documents what it answers: a JSON response schema with an example, so `/docs`
shows every shape; every response model keeps keys it does not name and its example fits it.
(Whether the schemas are true to what the routes answer is what tests/e2e/test_fuzz.py checks.)"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel

import api.responses
from api.app import create_app

# Routes that do not answer JSON: they declare their media type instead.
NOT_JSON: dict[str, str | None] = {
    "/commissions/statements/{rep_id}/{period}.csv": "text/csv",
    "/commissions/periods/{period}/payroll.csv": "text/csv",
    "/commissions/periods/{period}/payroll.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "/prometheus": None,  # the Prometheus text exposition format (api/observability.py documents none)
}

# JSON routes still without a response model (none now: api/history.py's record and history
# routes answer RecordState and AggregateHistory). Add a route here only with a reason.
NOT_YET_DOCUMENTED: set[str] = set()

DOCUMENT = create_app().openapi()
READS = sorted(path for path, item in DOCUMENT["paths"].items() if "get" in item)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def has_example(schema: dict[str, Any]) -> bool:
    schema = resolve(schema)
    if schema.get("examples") or "example" in schema:
        return True
    return schema.get("type") == "array" and has_example(schema.get("items", {}))


def test_the_document_lists_the_read_routes():
    assert len(READS) > 60
    assert NOT_JSON.keys() <= set(READS)
    assert set(READS) >= NOT_YET_DOCUMENTED


@pytest.mark.parametrize("path", [p for p in READS if p not in NOT_JSON and p not in NOT_YET_DOCUMENTED])
def test_a_json_read_route_declares_its_answer_with_an_example(path):
    content = DOCUMENT["paths"][path]["get"]["responses"]["200"].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    assert schema, f"GET {path} has no JSON response schema: give it a response_model from api/responses"
    assert schema != {} and resolve(schema).get("type") in {"object", "array"}, schema
    assert has_example(schema), f"GET {path}: its response model has no example"


@pytest.mark.parametrize("path", sorted(NOT_JSON))
def test_a_file_route_declares_its_media_type(path):
    content = DOCUMENT["paths"][path]["get"]["responses"]["200"].get("content", {})
    assert "application/json" not in content, content
    if NOT_JSON[path] is not None:
        assert NOT_JSON[path] in content, content


def test_the_routes_not_yet_documented_are_still_undocumented():
    """Once one of them has a response model, move it out of NOT_YET_DOCUMENTED."""
    for path in NOT_YET_DOCUMENTED:
        content = DOCUMENT["paths"][path]["get"]["responses"]["200"].get("content", {})
        assert not content.get("application/json", {}).get("schema"), path


def response_models() -> list[type[BaseModel]]:
    found = []
    for info in pkgutil.iter_modules(api.responses.__path__):
        module = importlib.import_module(f"api.responses.{info.name}")
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
        ]
    return found


def test_every_response_model_keeps_what_it_does_not_name_and_has_a_true_example():
    """Checked on the models' own schemas: /openapi.json leaves the examples' nulls out."""
    models = response_models()
    assert len(models) > 100
    for model in models:
        assert model.model_config.get("extra") == "allow", model
        schema = model.model_json_schema()
        examples = schema.get("examples", [])
        assert examples, f"{model.__name__} has no example"
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        for example in examples:
            errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(example)]
            assert not errors, f"{model.__name__}: {errors[:5]}"
