"""The client's operation table agrees with Klaviyo's spec and the published limits."""

from __future__ import annotations

import pytest

from klaviyo_sync.klaviyo._endpoints import ENDPOINTS, Endpoint
from klaviyo_sync.klaviyo.limits import LIMITS
from tests.spec.validate import SpecError, operation_id, validate_request

from .fakes import FakeKlaviyo


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=lambda e: e.operation)
def test_operation_ids_match_the_spec(endpoint: Endpoint) -> None:
    path = endpoint.path(id="01ABC") if "{id}" in endpoint.template else endpoint.template
    assert operation_id(endpoint.method, path) == endpoint.operation
    assert endpoint.operation in LIMITS
    assert not path.endswith("/")


def test_every_client_method_has_its_endpoint() -> None:
    assert len(ENDPOINTS) == 17


async def test_the_fake_rejects_a_body_the_spec_does_not_allow() -> None:
    # The whole suite leans on FakeKlaviyo validating bodies; make sure it does.
    api = FakeKlaviyo()
    import httpx

    async with httpx.AsyncClient(transport=api.transport, base_url="https://a.klaviyo.com") as c:
        with pytest.raises(SpecError, match="profile-bulk-import-job"):
            await c.post("/api/profiles", json={"data": {"type": "profile-bulk-import-job"}})
    with pytest.raises(SpecError):
        validate_request("POST", "/api/lists", {"data": {"type": "list", "attributes": {}}})
