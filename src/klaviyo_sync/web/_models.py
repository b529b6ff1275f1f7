"""What the webhook's OpenAPI description shows: the event, the customer, the receipt.

These models document the wire format; they do not validate it. The receiver reads the raw body
itself (its signature covers the exact bytes) and checks the customer with
``Customer.from_record``, so a customer is refused at the door for the same reason the engine
would refuse it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from ._events import EventName

__all__ = [
    "EXAMPLE_EVENT",
    "HealthStatus",
    "WebhookAddress",
    "WebhookCustomer",
    "WebhookEvent",
    "WebhookReceipt",
    "request_schemas",
]

EXAMPLE_EVENT: dict[str, Any] = {
    "event": "customer/updated",
    "customer": {
        "Id": 55260,
        "EmailAddress": "ada@example.com",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Analytical Engines Ltd",
        "Phone": "(555) 010-4477",
        "Addresses": [
            {
                "Address1": "12 St James's Square",
                "City": "London",
                "PostalCode": "SW1Y 4JH",
                "Country": "GB",
                "IsPrimaryBilling": True,
            }
        ],
        "CustomFields": {"SubscribeProfile": True},
    },
}


class WebhookAddress(BaseModel):
    """One of the customer's addresses; the profile's location comes from the first primary
    billing one."""

    model_config = ConfigDict(extra="allow")

    Address1: str | None = None
    Address2: str | None = None
    City: str | None = None
    Region: str | None = None
    PostalCode: str | None = None
    Country: str | None = None
    PhoneNumber: str | None = None
    IsPrimaryBilling: bool | None = Field(default=None, description='also "true"/"false", 1/0')
    IsPrimaryShipping: bool | None = Field(default=None, description='also "true"/"false", 1/0')


class WebhookCustomer(BaseModel):
    """An iPaaS.com Customer. Text fields may also be numbers (a phone read as a number);
    unknown keys are kept and reachable from formulas."""

    model_config = ConfigDict(extra="allow")

    Id: str | int = Field(description="the iPaaS.com Customer id, e.g. 55260; required")
    EmailAddress: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    Company: str | None = None
    Phone: str | None = None
    Addresses: list[WebhookAddress] | None = None
    CustomFields: dict[str, Any] | None = Field(
        default=None, description="SubscribeProfile, LIST_…, UCLIST_… and custom properties"
    )


class WebhookEvent(BaseModel):
    """The body of `POST /hooks/customers`, signed as a whole."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    event: EventName = Field(
        description="created and updated transfer when their trigger is enabled "
        "(KLAVIYO_SYNC_TRIGGERS); deleted is acknowledged and ignored"
    )
    customer: WebhookCustomer


class WebhookReceipt(BaseModel):
    """The answer to an accepted event (202): what the receiver did with it."""

    status: Literal["queued", "ignored", "duplicate"] = Field(
        description="queued for transfer; ignored (trigger off, or a delete); duplicate: its "
        "webhook-id was received lately, so it is acknowledged and not queued again"
    )
    event_id: int = Field(description="the event's id in the store's event log")
    event: EventName
    customer_id: str
    reason: str | None = Field(
        default=None, description="why an ignored event was ignored, or a duplicate not queued"
    )


class HealthStatus(BaseModel):
    status: Literal["ok"]


def request_schemas() -> dict[str, Any]:
    """JSON schemas of the request models, by name, for the OpenAPI document's components."""
    _, top = models_json_schema(
        [(WebhookEvent, "validation")], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = top["$defs"]
    return schemas
