"""The unified model: one shape per entity that every tool maps into and out of.

Values are strings (or None for "unknown"): each field's transform gives the canonical string
form (lowercase email, E.164 phone, ISO country code, snake-case picklist value), which keeps
hashing, matching and survivorship simple and tool-agnostic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CALL_FIELDS",
    "COMPANY_FIELDS",
    "DEAL_FIELDS",
    "ENTITIES",
    "ID_SEPARATOR",
    "MANY_REFERENCES",
    "PERSON_FIELDS",
    "REFERENCES",
    "TICKET_FIELDS",
    "Call",
    "Company",
    "Deal",
    "Person",
    "Ticket",
    "entity_fields",
    "is_many_reference",
    "reference_target",
]


class Person(BaseModel):
    """A human known to at least one tool (CRM contact, audience member, caller...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    job_title: str | None = None
    lifecycle_stage: str | None = None
    city: str | None = None
    country: str | None = None
    company_id: str | None = None
    """The unified id of the golden company the person belongs to (a reference: each tool
    holds its own record id of the company, see ``REFERENCES``)."""
    email_consent: str | None = None
    """Marketing email consent: ``subscribed``, ``unsubscribed``, ``cleaned`` (the address
    bounced) or ``never_asked``. The most restrictive value any tool holds wins and is never
    loosened by a write (``mappings.consent``); where and when it was recorded is the field's
    provenance."""
    email_consent_reason: str | None = None
    """Why ``email_consent`` is what it is, in the words of the tool that recorded it (the
    reason a person gave when unsubscribing); only ever from the record whose state won."""


class Company(BaseModel):
    """An organization: CRM company, helpdesk organization, billing account...

    ``domain`` is the bare web domain (``acme.com``: no scheme, no ``www.``, no path), the
    company's strongest key across tools.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    domain: str | None = None
    phone: str | None = None
    industry: str | None = None
    city: str | None = None
    country: str | None = None


class Deal(BaseModel):
    """A sales opportunity in a CRM (a deal, an opportunity).

    ``stage`` is the unified stage (each CRM's picklist maps to it), ``status`` one of
    ``open``/``won``/``lost``, ``amount`` a canonical number, ``close_date`` YYYY-MM-DD.
    Deals stay in their CRM unless a CRM's mapping asks for creates (a migration).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    amount: str | None = None
    currency: str | None = None
    stage: str | None = None
    pipeline: str | None = None
    close_date: str | None = None
    owner: str | None = None
    status: str | None = None
    company_id: str | None = None
    """The unified id of the golden company the deal is with (a reference)."""
    contact_ids: str | None = None
    """The unified ids of the golden people on the deal, sorted and ``;``-joined (a reference
    to many: each CRM holds its own person record ids, see ``MANY_REFERENCES``)."""


class Ticket(BaseModel):
    """A support request in one helpdesk (a ticket, a conversation).

    Tickets are never matched across tools nor copied between helpdesks: each is a golden
    record of its own, linked to its one helpdesk record (which names the tool), and feeds the
    unified view of its requester and company. ``status`` is one of
    ``new``/``open``/``pending``/``solved``/``closed``, the times ISO 8601 UTC
    (``2024-05-01T10:30:00Z``), ``url`` the agent's page of the ticket.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    channel: str | None = None
    requester_id: str | None = None
    """The unified id of the golden person who asked (a reference)."""
    company_id: str | None = None
    """The unified id of the golden company the ticket is for (a reference)."""
    assignee: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    solved_at: str | None = None
    url: str | None = None


class Call(BaseModel):
    """A phone call in one phone system (inbound or outbound).

    Like tickets, calls are never matched nor copied to another tool: each is a golden record
    of its own, linked to its one record. ``person_id`` is found by the other party's number
    (``phone``) among every golden person (``ref_by: phone`` in the mapping): the one person
    holding that number, none when several do (a switchboard) or the number is withheld. The
    call's company is the person's (``company_id`` of the golden person): it is not repeated
    here. ``direction`` is ``inbound``/``outbound``, ``status`` ``answered``/``missed``/
    ``voicemail``, the times ISO 8601 UTC, ``duration`` whole seconds, ``agent`` the phone
    system's user who took or made it, ``number`` the company's line and ``phone`` the other
    party, both E.164; ``tags`` ``;``-joined and sorted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: str | None = None
    status: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration: str | None = None
    agent: str | None = None
    number: str | None = None
    phone: str | None = None
    person_id: str | None = None
    """The unified id of the golden person on the other end (a reference by phone)."""
    recording: str | None = None
    tags: str | None = None
    url: str | None = None


PERSON_FIELDS: tuple[str, ...] = tuple(Person.model_fields)
COMPANY_FIELDS: tuple[str, ...] = tuple(Company.model_fields)
DEAL_FIELDS: tuple[str, ...] = tuple(Deal.model_fields)
TICKET_FIELDS: tuple[str, ...] = tuple(Ticket.model_fields)
CALL_FIELDS: tuple[str, ...] = tuple(Call.model_fields)

# Entity name (as written in mapping files) -> model: a mapping file names its entities and
# the loader checks their fields against this registry.
ENTITIES: dict[str, type[BaseModel]] = {
    "person": Person,
    "company": Company,
    "deal": Deal,
    "ticket": Ticket,
    "call": Call,
}

REFERENCES: dict[tuple[str, str], str] = {
    ("person", "company_id"): "company",
    ("deal", "company_id"): "company",
    ("deal", "contact_ids"): "person",
    ("ticket", "requester_id"): "person",
    ("ticket", "company_id"): "company",
    ("call", "person_id"): "person",
}
"""(entity, field) -> the entity the field points at. A tool maps it from and to its own
record id of that entity (or, with ``ref_by``, a value the entity holds: a phone number); the
golden record holds the golden id (``reconcile.refs``)."""

MANY_REFERENCES: frozenset[tuple[str, str]] = frozenset({("deal", "contact_ids")})
"""The references that hold a set of ids (``ID_SEPARATOR``-joined, sorted), not one."""

ID_SEPARATOR = ";"


def reference_target(entity: str, field: str) -> str | None:
    """The entity ``entity.field`` points at, None for a plain value."""
    return REFERENCES.get((entity, field))


def is_many_reference(entity: str, field: str) -> bool:
    """True when ``entity.field`` holds a set of references (``MANY_REFERENCES``)."""
    return (entity, field) in MANY_REFERENCES


def entity_fields(entity: str) -> tuple[str, ...]:
    """Unified field names of ``entity``; KeyError names the known entities."""
    try:
        model = ENTITIES[entity]
    except KeyError:
        raise KeyError(f"unknown entity {entity!r}; known: {sorted(ENTITIES)}") from None
    return tuple(model.model_fields)
