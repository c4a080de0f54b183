"""Custom unified fields: the ones an account adds by declaring them in a mapping file.

Real accounts carry properties no built-in model knows (a plan tier, an NPS score). A mapping
file's entity section may declare them under ``custom_fields:``; once declared in any mapping
file, a field is a unified field of that entity for every tool, so another tool's file maps it
without declaring it again (declaring it again the same way is allowed, differently is an
error naming both files). Values stay canonical strings, as for built-in fields; the type
picks the transform that gives that form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mappings.errors import MappingConfigError
from mappings.model import ENTITIES, entity_fields

__all__ = [
    "CustomField",
    "CustomFields",
    "custom_fields_in",
    "declared_custom_fields",
]

CustomType = Literal["text", "number", "boolean", "date"]
"""Each type is also the name of the transform a field of that type uses by default."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class CustomField(BaseModel):
    """One declared field: its unified name, value type and survivorship rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: CustomType = "text"
    survivorship: Literal["most_recent_non_empty", "most_frequent"] = "most_recent_non_empty"
    authoritative: str | None = None
    """A tool whose non-empty value always wins for this field."""

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"custom field name {value!r} must be snake_case (a-z, 0-9, _)")
        return value

    @property
    def transform(self) -> str:
        """The transform a line mapping this field uses unless it names one."""
        return self.type


CustomFields = dict[str, dict[str, CustomField]]
"""Entity -> field name -> declaration."""


def declared_custom_fields(entity: str, section: object, source: str) -> tuple[CustomField, ...]:
    """The ``custom_fields:`` list of one entity section, validated (``source`` names the file)."""
    if not isinstance(section, dict) or "custom_fields" not in section:
        return ()
    items = section["custom_fields"]
    if not isinstance(items, list):
        raise MappingConfigError(f"{source}: {entity}.custom_fields must be a list")
    builtin = set(entity_fields(entity))
    out: list[CustomField] = []
    for item in items:
        try:
            declared = CustomField.model_validate(item)
        except ValidationError as exc:
            raise MappingConfigError(f"{source}: invalid custom field in {entity}: {exc}") from None
        if declared.name in builtin:
            raise MappingConfigError(
                f"{source}: {entity}.custom_fields: {declared.name!r} is a built-in field"
            )
        if any(d.name == declared.name for d in out):
            raise MappingConfigError(
                f"{source}: {entity}.custom_fields declares {declared.name!r} twice"
            )
        out.append(declared)
    return tuple(out)


def _documents(directory: Path) -> Iterable[tuple[Path, object]]:
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "survivorship.yaml":
            continue
        with path.open(encoding="utf-8") as fh:
            try:
                yield path, yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise MappingConfigError(f"{path.name}: not valid YAML: {exc}") from None


def custom_fields_in(directory: Path) -> CustomFields:
    """Every custom field declared in the mapping files of ``directory``, per entity.

    Two files may declare the same field only identically: otherwise which type or rule the
    field has would depend on which file was read first.
    """
    found: CustomFields = {entity: {} for entity in ENTITIES}
    where: dict[tuple[str, str], str] = {}
    for path, document in _documents(directory):
        if not isinstance(document, dict):
            continue
        for entity, section in document.items():
            if entity not in ENTITIES:
                continue
            for declared in declared_custom_fields(str(entity), section, path.name):
                key = (str(entity), declared.name)
                held = found[str(entity)].get(declared.name)
                if held is not None and held != declared:
                    raise MappingConfigError(
                        f"custom field {entity}.{declared.name} is declared differently in "
                        f"{where[key]} and {path.name}; declare it once or identically"
                    )
                found[str(entity)][declared.name] = declared
                where.setdefault(key, path.name)
    return found
