"""The SDK's route table against the server's own /openapi.json: no drift."""

from __future__ import annotations

from typing import Any, Dict

import httpx
import pytest

from trainyard._routes import ROUTES, Route


@pytest.fixture(scope="module")
def openapi(url: str) -> Dict[str, Any]:
    doc: Dict[str, Any] = httpx.get(f"{url}/openapi.json").json()
    return doc


def resolve(doc: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_exists_with_its_body_fields(openapi: Dict[str, Any], name: str) -> None:
    route: Route = ROUTES[name]
    assert route.path in openapi["paths"], f"{name}: {route.path} is not in /openapi.json"
    op = openapi["paths"][route.path].get(route.method.lower())
    assert op is not None, f"{name}: no {route.method} {route.path} in /openapi.json"
    if not route.body:
        return
    schema = resolve(openapi, op["requestBody"]["content"]["application/json"]["schema"])
    props = set(schema.get("properties", {}))
    assert set(route.body) <= props, f"{name}: the SDK sends fields the API lacks: {set(route.body) - props}"
    required = set(schema.get("required", []))
    assert required <= set(route.body), f"{name}: the API requires fields the SDK never sends: {required - set(route.body)}"
