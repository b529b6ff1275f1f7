"""Customers used by the acceptance scenarios, in the seed's iPaaS.com shape."""

from __future__ import annotations

from typing import Any


def ada(**changes: Any) -> dict[str, Any]:
    """A complete customer: name, email, phone, company and a primary billing address."""
    customer: dict[str, Any] = {
        "Id": 55260,
        "EmailAddress": "ada@example.com",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Analytical Engines Ltd",
        "Phone": "(415) 555-2671",
        "Addresses": [
            {
                "Address1": "1 Shipping Lane",
                "City": "Oakland",
                "Country": "US",
                "IsPrimaryShipping": True,
            },
            {
                "Address1": "12 Babbage Row",
                "Address2": "Suite 3",
                "City": "San Francisco",
                "Region": "CA",
                "PostalCode": "94107",
                "Country": "US",
                "IsPrimaryBilling": True,
            },
        ],
    }
    customer.update(changes)
    return customer
