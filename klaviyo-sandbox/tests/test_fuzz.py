"""Bad input never gets a 500 or a traceback: random bodies, queries and paths get Klaviyo's
envelope (and every answer still validates against the spec)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from klaviyo_sandbox import ManualClock, SandboxConfig, create_app
from klaviyo_sandbox._routes import OPERATIONS

from .conftest import JSON_API, check_response, client_for

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)
attribute_names = st.sampled_from(
    [
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "location",
        "properties",
        "subscriptions",
        "profiles",
        "name",
        "opt_in_process",
        "historical_import",
        "custom_source",
        "_kx",
    ]
) | st.text(max_size=8)
resource_types = st.sampled_from(
    [
        "profile",
        "list",
        "profile-bulk-import-job",
        "profile-subscription-bulk-create-job",
        "profile-subscription-bulk-delete-job",
    ]
) | st.text(max_size=8)
email_like = st.sampled_from(["a@example.com", "bad", "", "A@EXAMPLE.COM", "x@y"])
phone_like = st.sampled_from(["+14155552671", "+15555550100", "4155552671", "+", "++1"])


@st.composite
def profile_like(draw: st.DrawFn) -> dict[str, Any]:
    attributes = draw(st.dictionaries(attribute_names, json_values, max_size=5))
    if draw(st.booleans()):
        attributes["email"] = draw(email_like)
    if draw(st.booleans()):
        attributes["phone_number"] = draw(phone_like)
    if draw(st.booleans()):
        attributes["subscriptions"] = draw(
            st.fixed_dictionaries(
                {
                    "email": st.fixed_dictionaries(
                        {"marketing": st.fixed_dictionaries({"consent": st.text(max_size=12)})}
                    )
                }
            )
            | json_values
        )
    item: dict[str, Any] = {"type": draw(st.sampled_from(["profile"]) | st.text(max_size=5))}
    if draw(st.booleans()):
        item["attributes"] = attributes
    if draw(st.booleans()):
        item["id"] = draw(json_values)
    if draw(st.booleans()):
        item["meta"] = draw(st.fixed_dictionaries({"patch_properties": json_values}) | json_values)
    return item


@st.composite
def documents(draw: st.DrawFn) -> Any:
    shape = draw(st.integers(min_value=0, max_value=3))
    if shape == 0:
        return draw(json_values)
    if shape == 1:
        return {"data": draw(st.lists(profile_like(), max_size=3) | json_values)}
    data: dict[str, Any] = {"type": draw(resource_types)}
    attributes = draw(st.dictionaries(attribute_names, json_values, max_size=4))
    if shape == 3:
        attributes["profiles"] = {"data": draw(st.lists(profile_like(), max_size=3))}
    data["attributes"] = attributes
    if draw(st.booleans()):
        data["relationships"] = draw(
            st.fixed_dictionaries(
                {"list": st.fixed_dictionaries({"data": json_values}), "lists": json_values}
            )
            | json_values
        )
    if draw(st.booleans()):
        data["id"] = draw(json_values)
    return {"data": data}


_FILTER_TOKENS = [*"(),[]'\"\\ .@-_x1", "email", "id", "and", "any", "equals", "status"]
filter_text = st.lists(st.sampled_from(_FILTER_TOKENS), max_size=25).map("".join)
query_keys = st.sampled_from(
    [
        "filter",
        "page[size]",
        "page[cursor]",
        "fields[profile]",
        "additional-fields[profile]",
        "fields[list]",
        "additional-fields[list]",
        "fields[profile-bulk-import-job]",
        "sort",
        "include",
    ]
)
queries = st.dictionaries(query_keys, filter_text | st.text(max_size=20), max_size=4)
segments = st.sampled_from(["PROFILE", "LIST", "JOB"]) | st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"), max_size=12
)
methods = st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"])


def _build() -> tuple[Starlette, dict[str, str]]:
    app = create_app(SandboxConfig(rate_limits=False, clock=ManualClock()))
    sandbox = app.state.sandbox
    profile = sandbox.create_profile({"email": "seed@example.com"})
    target = sandbox.create_list("Seed", "double_opt_in")
    job = sandbox.create_import_job([{"type": "profile", "attributes": {"email": "j@x.io"}}])
    return app, {"PROFILE": profile.id, "LIST": target.id, "JOB": job.id}


APP, IDS = _build()


def _send(method: str, path: str, query: dict[str, str], content: bytes) -> httpx.Response:
    async def go() -> httpx.Response:
        async with client_for(APP) as http:
            return await http.request(
                method, path, params=query, content=content, headers={"Content-Type": JSON_API}
            )

    return asyncio.run(go())


def _path(template: str, segment: str) -> str:
    value = quote(IDS.get(segment, segment), safe="") or "x"
    return re.sub(r"\{[^}]+\}", value, template)


@FUZZ
@given(
    operation=st.sampled_from([op for op in OPERATIONS if op.handler is not None]),
    segment=segments,
    query=queries,
    body=documents(),
)
def test_random_documents_never_500(
    operation: Any, segment: str, query: dict[str, str], body: Any
) -> None:
    path = _path(operation.template, segment)
    response = _send(operation.method, path, query, json.dumps(body).encode())
    assert response.status_code < 500, response.text
    if response.request.url.path.startswith("/api/"):
        check_response(operation.method, response.request.url.path, response)


@FUZZ
@given(
    method=methods,
    template=st.sampled_from([op.template for op in OPERATIONS]),
    raw=st.binary(max_size=300),
)
def test_random_bytes_never_500(method: str, template: str, raw: bytes) -> None:
    response = _send(method, _path(template, "PROFILE"), {}, raw)
    assert response.status_code < 500, response.text
    check_response(method, response.request.url.path, response)


@FUZZ
@given(body=json_values, endpoint=st.sampled_from(["/__sandbox__/faults", "/__sandbox__/confirm"]))
def test_admin_endpoints_never_500(body: Any, endpoint: str) -> None:
    async def go() -> httpx.Response:
        app = create_app(SandboxConfig(rate_limits=False, clock=ManualClock()))
        async with client_for(app) as http:
            return await http.post(endpoint, content=json.dumps(body).encode())

    response = asyncio.run(go())
    assert response.status_code in (200, 400, 404), response.text


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 50_000,
        b'{"data": ' * 5_000,
        b'{"data": {"type": "profile", "attributes": {"properties": {"n": 1e400}}}}',
        b'{"data": {"type": "profile", "attributes": {"properties": {"n": NaN}}}}',
        b'{"data": {"type": "profile", "attributes": {"external_id": "' + b"9" * 5000 + b'"}}}',
        b'{"data": {"type": "profile", "attributes": {"properties": {"n": ' + b"9" * 5000 + b"}}}}",
        b"\xff\xfe\x00",
        b'{"data": {"type": "profile", "attributes": {"email": "\\ud800@x.io"}}}',
        b"null",
        b'"string"',
    ],
)
async def test_hand_picked_nasties_never_500(content: bytes) -> None:
    app = create_app(SandboxConfig(rate_limits=False, clock=ManualClock()))
    async with client_for(app) as http:
        for path in ("/api/profiles", "/api/profile-import", "/api/profile-bulk-import-jobs"):
            response = await http.post(path, content=content, headers={"Content-Type": JSON_API})
            assert response.status_code < 500, response.text
            check_response("POST", path, response)
        log = await http.get("/__sandbox__/requests")
        assert log.status_code == 200
