"""The unified model: one shape per entity that every tool maps into and out of.

Values are strings (or None for "unknown"): each field's transform gives the canonical string
form (lowercase email, E.164 phone, ISO country code, snake-case picklist value), which keeps
hashing, matching and survivorship simple and tool-agnostic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["COMPANY_FIELDS", "ENTITIES", "PERSON_FIELDS", "Company", "Person", "entity_fields"]


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


PERSON_FIELDS: tuple[str, ...] = tuple(Person.model_fields)
COMPANY_FIELDS: tuple[str, ...] = tuple(Company.model_fields)

# Entity name (as written in mapping files) -> model. Deal, Ticket, Call join here: a mapping
# file names its entities and the loader checks their fields against this registry.
ENTITIES: dict[str, type[BaseModel]] = {"person": Person, "company": Company}


def entity_fields(entity: str) -> tuple[str, ...]:
    """Unified field names of ``entity``; KeyError names the known entities."""
    try:
        model = ENTITIES[entity]
    except KeyError:
        raise KeyError(f"unknown entity {entity!r}; known: {sorted(ENTITIES)}") from None
    return tuple(model.model_fields)
