"""Collections and mappings: how a customer record becomes a Klaviyo profile draft.

Two collections turn customers into drafts: ``add`` for a customer with no link (creates a
profile) and ``update`` for a linked one (partially patches it). Each is an ordered list of
rows; a row takes a value from a *static* value, a *field* of the customer record or a
*formula*, and writes it to a *destination* named as in the seed: ``Email``, ``PhoneNumber``,
``ExternalId``, ``FirstName``, ``LastName``, ``Organization``, ``Title``, ``Locale``, ``Image``,
``Address1``, ``Address2``, ``City``, ``Region``, ``Zip``, ``Country``, ``Timezone``,
``SubscribeProfile``, ``LIST_{list name}``, ``UCLIST_{list name}``, ``Type``, ``Id``; any other
name becomes a custom property.

An empty value (missing, none, blank text, an empty list or object) leaves the destination
*absent*, so Klaviyo keeps what it has, unless the row says ``when_empty = "clear"``. A phone
number that cannot be normalized to E.164 is always left out (with a note on the draft), never
cleared.

The mapping file (TOML)
-----------------------

Without a mapping file the shipped templates are used (``templates/default.toml``, itself a
mapping file that lists all 18 rows). A mapping file changes them::

    # Start from the shipped rows ("default", the default), or from nothing ("none").
    template = "default"

    # Drop rows by destination, from both collections ...
    remove = ["My Custom", "UCLIST_Preview List"]

    # ... or from one collection only: list membership is set when the profile is created.
    [update]
    remove = ["LIST_Sms Subscribers"]

    # Add a row, or replace the row with the same destination (it keeps its place).
    [[rows]]
    destination = "SubscribeProfile"
    kind = "formula"                  # static | field | formula
    source = "custom('Newsletter', 'no') | lower in ['yes', 'true', '1']"
    collections = ["add"]             # optional, default both: ["add", "update"]
    description = "Subscribe only customers who opted in."

    [[rows]]
    destination = "SubscribeProfile"  # an empty value leaves consent as Klaviyo has it;
    kind = "static"                   # removing the row instead would unsubscribe everyone
    source = ""
    collections = ["update"]

    [[rows]]
    destination = "Loyalty Tier"      # not a Klaviyo field: a custom property
    kind = "field"
    source = "CustomFields.Tier"      # a dotted path; list items by index: Addresses.0.City
    when_empty = "clear"              # optional, default "omit"

A row has exactly these keys: ``destination`` and ``kind`` (required), ``source`` (required: the
value itself for ``static``, any TOML value but a date; text for ``field`` and ``formula``),
``when_empty``, ``collections``, ``description``, ``on`` and ``override_klaviyo_consent`` (both
below). Anything else, a duplicate destination within one collection, or a removal of a row that
does not exist is an error naming the file and the row.

Field ownership and consent
---------------------------

Two row options say who owns a value once the profile exists in Klaviyo::

    [[rows]]
    destination = "FirstName"         # Klaviyo owns the first name once the profile exists:
    kind = "field"                    # sent when a profile is created or first linked
    source = "FirstName"              # (matched by email or phone), never on later updates
    on = "create"                     # "always" (the default) or "create"

    [[rows]]
    destination = "SubscribeProfile"  # the source's opt-in wins over an unsubscribe that
    kind = "formula"                  # was made in Klaviyo
    source = "custom('Newsletter', 'no') | lower in ['yes', 'true', '1']"
    override_klaviyo_consent = true   # default false; SubscribeProfile and LIST_ rows only

A create-only row goes to the ``add`` collection only (``collections = ["add"]`` may be written,
``"update"`` may not) and takes its destination out of ``update``, so the template's row stops
being sent on updates. A create-only ``SubscribeProfile`` is replaced in ``update`` by an empty
value, which leaves consent as Klaviyo has it: no row at all would unsubscribe every profile.

Klaviyo is the system of record for consent: on update, a profile that is unsubscribed in
Klaviyo is not subscribed again by ``SubscribeProfile = true`` or by a ``LIST_`` row (which
subscribes through Klaviyo's consent endpoint) unless that row says
``override_klaviyo_consent = true``. Any other row refuses the key: ``UCLIST_`` adds to a list
without touching consent, and other fields are not consent. ``check`` lists every create-only
row and warns about every override.

Formulas
--------

A formula is a Jinja2 expression, compiled once per run in a sandbox. It sees ``customer`` (the
raw record) and every top-level key of the record as a bare name (``Phone``, ``EmailAddress``),
``billing`` and ``shipping`` (the primary addresses, or none), and the helpers ``custom(name,
default=none)``, ``link()``, ``e164(value, country=none)`` and ``coalesce(*values)``; filters
such as ``lower``, ``upper``, ``trim``, ``default``, ``replace``, ``int``, ``join`` and ``first``
work. Nothing else can be called, no name starting with ``_`` can be reached, and Jinja's own
globals are gone. Examples: ``e164(coalesce(Phone, billing.PhoneNumber))``,
``billing.City | title``, ``(FirstName ~ ' ' ~ LastName) | trim`` (``~`` joins text and
reads a none or missing value as empty text). ``default('x')`` replaces only a *missing* value;
write ``default('x', true)`` or ``coalesce(value, 'x')`` to replace none and blank text too.

A formula has limits (``_limits``): what it builds (100,000 characters, 10,000 items), its
time per customer (0.5 s) and its nesting (32 levels). Nesting, and a part that reads nothing
from the customer yet goes past a limit, are compile errors; past a limit at run time, that
customer fails with a FormulaError and the others go on.
"""

from __future__ import annotations

from ._check import CheckMessage, check_collections
from ._compile import CompiledCollection, RowError, compile_collection
from ._file import default_collections, load_collections
from ._model import Collection, Collections, MappingRow, PhoneSettings

__all__ = [
    "CheckMessage",
    "Collection",
    "Collections",
    "CompiledCollection",
    "MappingRow",
    "PhoneSettings",
    "RowError",
    "check_collections",
    "compile_collection",
    "default_collections",
    "load_collections",
]
