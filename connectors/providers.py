"""Provider facts as data: each ``connectors/<tool>/connector.yaml``, found by discovery.

A tool is one folder: ``connector.yaml`` (this module's :class:`Provider`), ``manifest.yaml``
(the read side), ``writer.py`` (the write side) and ``README.md``. Nothing outside that folder
names the tool: the connection's variables, CLI flags, Secret blocks, the auth, the rate-limit
policy, batch limits, capabilities and the check are all read from here.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.errors import ErrorRules
from connectors.ratelimit import RateLimitHeaders, RateLimitPolicy

__all__ = [
    "CONNECTORS_DIR",
    "AuthSpec",
    "BaseUrlFromSecret",
    "Budget",
    "Capabilities",
    "CheckSpec",
    "ConnectionField",
    "Provider",
    "ProviderError",
    "UnknownTool",
    "WriteProbe",
    "load_provider",
    "provider_for",
    "providers",
]

CONNECTORS_DIR = Path(__file__).resolve().parent
CONNECTOR_FILE = "connector.yaml"

CreateMode = Literal["upsert", "lookup_then_create", "create_only", "never"]


class ProviderError(ValueError):
    """A ``connector.yaml`` that does not say what the kit needs; names the file."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConnectionField(_Frozen):
    """One field of the connection: a secret (``airbyte_secret``) or an option."""

    name: str
    title: str = ""
    description: str = ""
    secret: bool = False
    required: bool = False

    def env_var(self, tool: str) -> str:
        """``REVSYNC_<TOOL>_<FIELD>``."""
        return f"REVSYNC_{tool.upper()}_{self.name.upper()}"

    @property
    def flag(self) -> str:
        """``--list-id``: the ``revsync connect`` flag of an option."""
        return "--" + self.name.replace("_", "-")


class AuthSpec(_Frozen):
    """Which auth kind (``connectors/auth.py`` registry) and which connection fields feed it.

    Field references name connection fields; ``username`` is a template over the options.
    """

    kind: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    header: str | None = None
    param: str | None = None
    key: str | None = None
    prefix: str = ""
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None


class BaseUrlFromSecret(_Frozen):
    """A base URL whose template fields come out of a secret (a data center in the API key)."""

    secret: str
    pattern: str
    missing: str


class Capabilities(_Frozen):
    """What the tool can do with one entity: asked by the flow instead of the tool's name."""

    create: CreateMode = "upsert"
    merge: str | None = None
    """The writer method that calls the vendor's own merge (``(primary_id, merged_id)``)."""
    survivor_lookup: str | None = None
    """The writer method that finds who holds a merged-away record's key now."""
    async_jobs: bool = False


class WriteProbe(_Frozen):
    """One cheap call, writing nothing, that proves the write side can work.

    ``path``, ``name`` and the messages are templates over the options; ``detail`` also over
    the JSON body (dotted names).
    """

    name: str
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    granted_statuses: tuple[int, ...] = ()
    """Error statuses that still prove the permission (validation of an empty batch)."""
    expect: dict[str, Any] = Field(default_factory=dict)
    """``{field: dotted.path, one_of: [...]}``: the body must say so."""
    detail: str = "ok"
    not_found: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Budget(_Frozen):
    """The shared API budget ``revsync budgets apply`` creates for the tool by default
    (burst and sustained rate for every run, and the share backfills may take)."""

    burst: int = Field(gt=0)
    per_second: float = Field(gt=0)
    backfill_burst: int = Field(gt=0)
    backfill_per_second: float = Field(gt=0)


class QuotaProbe(_Frozen):
    """A GET that reports the account's whole API allocation (calls left of the limit), for
    a vendor whose allocation outlasts any window its headers describe."""

    path: str
    remaining: str
    """Dotted path of the calls left in the answer."""
    limit: str
    name: str


class CheckSpec(_Frozen):
    read: str = "read (the manifest's check stream)"
    write_probe: WriteProbe | None = None
    quota: QuotaProbe | None = None


class _WriterSpec(_Frozen):
    class_name: str = Field(alias="class")
    batch_max: int = Field(gt=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Provider(_Frozen):
    """Everything revsync knows about one vendor, from its ``connector.yaml``."""

    tool: str
    title: str
    category: str
    docs_url: str = ""
    base_url_template: str = Field(alias="base_url")
    base_url_from_secret: BaseUrlFromSecret | None = None
    fields: tuple[ConnectionField, ...]
    auth: AuthSpec
    rate_limit: RateLimitPolicy
    errors: ErrorRules = ErrorRules()
    headers: dict[str, str] = Field(default_factory=dict)
    """Constant headers every call carries (a vendor's API version pin); reads send them from
    the manifest."""
    writer_class: str
    batch_max: int
    entities: dict[str, Capabilities] = Field(default_factory=dict)
    check: CheckSpec = CheckSpec()
    budget: Budget | None = None
    sandbox: dict[str, str] = Field(default_factory=dict)
    """Connection field -> the ``sandbox.credentials`` constant the local sandbox accepts."""
    folder: Path

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("tool")
    @classmethod
    def _tool_is_a_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError("tool must be lowercase letters, digits and _ (it names variables)")
        return value

    @model_validator(mode="after")
    def _sandbox_names_fields(self) -> Provider:
        unknown = set(self.sandbox) - {f.name for f in self.fields}
        if unknown:
            raise ValueError(f"sandbox names no connection field: {sorted(unknown)}")
        return self

    @property
    def secret_fields(self) -> tuple[ConnectionField, ...]:
        return tuple(f for f in self.fields if f.secret)

    @property
    def option_fields(self) -> tuple[ConnectionField, ...]:
        return tuple(f for f in self.fields if not f.secret)

    @property
    def secret_name(self) -> str:
        """The first secret field: the credential a prompt asks for first."""
        return self.secret_fields[0].name

    @property
    def required_options(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.option_fields if f.required)

    @property
    def url_options(self) -> tuple[str, ...]:
        """Options that fill ``base_url_template`` when no base URL is set (a subdomain)."""
        named = _template_fields(self.base_url_template)
        return tuple(f.name for f in self.option_fields if f.name in named)

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.yaml"

    def field(self, name: str) -> ConnectionField:
        for each in self.fields:
            if each.name == name:
                return each
        raise KeyError(f"{self.tool} has no connection field {name!r}")

    def env_var(self, name: str) -> str:
        return f"REVSYNC_{self.tool.upper()}_{name.upper()}"

    def capabilities(self, entity: str) -> Capabilities:
        """What the tool can do with ``entity`` (default: upsert, no merge)."""
        return self.entities.get(entity, Capabilities())


def _template_fields(template: str) -> list[str]:
    return re.findall(r"{([a-z_][a-z0-9_]*)}", template)


def _fields(spec: Any, source: Path) -> tuple[ConnectionField, ...]:
    if not isinstance(spec, dict) or not isinstance(spec.get("properties"), dict):
        raise ProviderError(f"{source}: connection_specification needs properties")
    required = set(spec.get("required") or [])
    unknown = required - set(spec["properties"])
    if unknown:
        raise ProviderError(f"{source}: required names no property: {sorted(unknown)}")
    out = []
    for name, prop in spec["properties"].items():
        if name == "base_url":
            raise ProviderError(f"{source}: base_url is every tool's own field; do not declare it")
        prop = prop or {}
        out.append(
            ConnectionField(
                name=name,
                title=str(prop.get("title") or name.replace("_", " ")),
                description=str(prop.get("description") or ""),
                secret=bool(prop.get("airbyte_secret")),
                required=name in required,
            )
        )
    if not any(f.secret for f in out):
        raise ProviderError(f"{source}: the connection needs one airbyte_secret field at least")
    return tuple(out)


def _rate_limit(raw: Any) -> RateLimitPolicy:
    raw = dict(raw or {})
    headers = raw.pop("headers", None)
    return RateLimitPolicy(
        headers=RateLimitHeaders(**headers) if headers else None,
        **raw,
    )


def load_provider(folder: Path) -> Provider:
    """Parse and validate ``folder/connector.yaml``; a ``ProviderError`` names what is wrong."""
    source = folder / CONNECTOR_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProviderError(f"{source}: {exc}") from None
    if not isinstance(raw, dict):
        raise ProviderError(f"{source}: expected a mapping")
    if raw.get("tool") != folder.name:
        raise ProviderError(f"{source}: tool must be the folder's name {folder.name!r}")
    raw = dict(raw)
    writer = raw.pop("writer", None) or {}
    spec = raw.pop("connection_specification", None)
    rate_limit = raw.pop("rate_limit", None)
    try:
        writer_spec = _WriterSpec.model_validate(writer)
        return Provider.model_validate(
            {
                **raw,
                "fields": _fields(spec, source),
                "rate_limit": _rate_limit(rate_limit),
                "writer_class": writer_spec.class_name,
                "batch_max": writer_spec.batch_max,
                "folder": folder,
            }
        )
    except (ValidationError, TypeError) as exc:
        raise ProviderError(f"{source}: {exc}") from None


@cache
def providers() -> dict[str, Provider]:
    """Every connector folder that declares itself, by tool name."""
    found = {}
    for path in sorted(CONNECTORS_DIR.glob(f"*/{CONNECTOR_FILE}")):
        provider = load_provider(path.parent)
        found[provider.tool] = provider
    return found


class UnknownTool(KeyError):
    """A tool name no connector folder declares; the message names the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tool"


def provider_for(tool: str) -> Provider:
    """The facts for ``tool``; an :class:`UnknownTool` names the tools we know."""
    try:
        return providers()[tool]
    except KeyError:
        raise UnknownTool(
            f"unknown tool {tool!r}; known: {', '.join(sorted(providers()))}"
        ) from None
