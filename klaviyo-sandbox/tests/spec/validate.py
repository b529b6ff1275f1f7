"""Validate request bodies and responses against Klaviyo's OpenAPI slices.

Usage from a test::

    from tests.spec.validate import validate_request, validate_response
    validate_response("POST", "/api/profiles", 201, body)
    validate_request("PATCH", "/api/profiles/{id}", body)

Paths may be concrete (``/api/profiles/01J…``); they are matched against the spec's templates.
An operation, status or media type the spec does not describe is itself a failure.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).parent / "klaviyo-openapi"
_MEDIA = "application/vnd.api+json"

__all__ = ["SpecError", "operation_id", "validate_request", "validate_response"]


class SpecError(AssertionError):
    """A body does not match the spec, or the spec does not describe the operation."""


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((SPEC_DIR / f"{name}.json").read_text()) for name in ("profiles", "lists")
    }


@cache
def _routes() -> list[tuple[re.Pattern[str], str, str]]:
    routes = []
    for name, doc in _documents().items():
        for template in doc["paths"]:
            pattern = re.sub(r"\{[^}]+\}", r"[^/]+", template)
            routes.append((re.compile(f"^{pattern}$"), template, name))
    # Literal segments beat parameters: /api/profiles/x/lists before /api/profiles/{id}.
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def _find(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    path = path.split("?", 1)[0]
    for pattern, template, name in _routes():
        if pattern.match(path):
            doc = _documents()[name]
            op = doc["paths"][template].get(method.lower())
            if op is None:
                raise SpecError(f"the spec has no {method} {template}")
            return name, doc, op
    raise SpecError(f"the spec has no path matching {path}")


def operation_id(method: str, path: str) -> str:
    """The spec's operationId for a concrete method and path."""
    return str(_find(method, path)[2]["operationId"])


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@cache
def _registry(name: str) -> Registry:
    return Registry().with_resource(
        f"urn:klaviyo:{name}", Resource.from_contents(_documents()[name], DRAFT4)
    )


def _check(name: str, schema: dict[str, Any], body: Any, what: str) -> None:
    # Re-root every local $ref at the document so nested references resolve.
    rooted = json.loads(json.dumps(schema).replace('"#/', f'"urn:klaviyo:{name}#/'))
    validator = OAS30Validator(rooted, registry=_registry(name))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{what} does not match the spec:"]
        for err in errors[:10]:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            lines.append(f"  at {where}: {err.message[:300]}")
        raise SpecError("\n".join(lines))


def validate_request(method: str, path: str, body: Any) -> None:
    """Check a request body the client would send."""
    name, doc, op = _find(method, path)
    request_body = _resolve(doc, op.get("requestBody", {}))
    content = request_body.get("content", {})
    if _MEDIA not in content:
        raise SpecError(f"{method} {path} takes no {_MEDIA} body in the spec")
    _check(name, content[_MEDIA]["schema"], body, f"request body of {method} {path}")


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Check a response the sandbox returned; a body-less status must have no body."""
    name, doc, op = _find(method, path)
    responses = op["responses"]
    key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None)
    if key is None:
        raise SpecError(f"{method} {path} never answers {status} in the spec")
    response = _resolve(doc, responses[key])
    content = response.get("content")
    if not content:
        if body not in (None, b"", ""):
            raise SpecError(f"{method} {path} {status} must have no body, got {body!r:.200}")
        return
    schema = content.get(_MEDIA, next(iter(content.values())))["schema"]
    _check(name, schema, body, f"response {status} of {method} {path}")


def _self_test() -> None:  # pragma: no cover - run by hand when the spec changes
    try:
        validate_response("GET", "/api/profiles/x", 200, {"data": {}})
    except SpecError as err:
        print(err)
    except ValidationError as err:
        print("raw", err)


if __name__ == "__main__":  # pragma: no cover
    _self_test()
