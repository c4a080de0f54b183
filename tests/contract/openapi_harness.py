"""Contract-test harness: validate sandbox traffic against the vendors' OpenAPI specs.

How to use it (for every tool's contract test)
----------------------------------------------
1. Record an exchange: an ``httpx.Request`` and its ``httpx.Response`` (``response.request`` is
   the request; or collect them with :func:`recording_client`, an ``httpx.Client`` whose event
   hook keeps every pair it sent).
2. Validate it::

       from tests.contract.openapi_harness import require_specs, validate_exchange

       pytestmark = require_specs("brevo.yaml")   # skips with a reason if ../shared is absent

       validate_exchange("brevo.yaml", response.request, response,
                         server_base=sandbox.base_url("brevo"))

   ``server_base`` is the sandbox URL that stands in for the vendor's server (everything after
   it is the vendor path); it is mapped onto the spec's first ``servers`` URL (server variables
   take their defaults), or onto ``spec_server`` when given. ``validate_exchange`` checks the
   request (path, query, headers, body) and the response (status, headers, body) with
   openapi-core and raises :class:`ContractViolation` listing every error; use
   ``validate_request`` / ``validate_response`` to check one side only (e.g. a request our
   connector sends, captured from ``/_sandbox/requests`` with :func:`request_from_log`).
3. Security schemes are not checked (the sandbox's own auth tests cover them).

Specs are read from ``/work/shared/vendor-specs`` (``../shared`` next to the repo), never copied
into the project; a name containing ``/`` is a path from the repo root instead, for the
project's own hand-written specs (``sandbox/specs/salesforce.openapi.yaml``). Specs are parsed
once per process (C YAML loader; ``zendesk-support.yaml`` needs its YAML-1.1 ``=`` value tag
read as a plain string) and cached with their openapi-core objects;
:func:`load_times` reports how long each parse took. Some specs are third-party reconstructions
or conversions (see ``vendor-specs/SOURCES.md``): say so in the test that uses them.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.validation.request.exceptions import SecurityValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = [
    "REPO_ROOT",
    "SPECS_DIR",
    "SPEC_PATCHES",
    "ContractViolation",
    "load_spec",
    "load_times",
    "recording_client",
    "request_from_log",
    "require_specs",
    "spec_path",
    "spec_server_url",
    "validate_exchange",
    "validate_request",
    "validate_response",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT / ".." / "shared" / "vendor-specs"
_LOAD_TIMES: dict[str, float] = {}


class ContractViolation(AssertionError):
    """The exchange does not match the spec; the message lists every error found."""


def require_specs(*names: str) -> pytest.MarkDecorator:
    """A skip marker for when ``../shared/vendor-specs`` (or a named spec) is not there."""
    missing = [n for n in names if not spec_path(n).is_file()]
    vendor = [n for n in names if "/" not in n]
    reason = (
        f"vendor specs not available: {SPECS_DIR.resolve()} lacks {', '.join(missing) or 'it'}"
        " (the contract tests need the shared ../shared/vendor-specs folder)"
    )
    absent = bool(vendor) and not SPECS_DIR.is_dir()
    return pytest.mark.skipif(absent or bool(missing), reason=reason)


def spec_path(name: str) -> Path:
    """``vendor-specs/<name>``, or ``<repo>/<name>`` for a project spec (a name with ``/``)."""
    return REPO_ROOT / name if "/" in name else SPECS_DIR / name


class _SpecLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loader (C when available) that reads YAML 1.1's ``=`` "value" tag as a string."""


def _value_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_SpecLoader.add_constructor("tag:yaml.org,2002:value", _value_as_string)


@functools.cache
def _spec_dict(name: str) -> dict[str, Any]:
    path = spec_path(name)
    if not path.is_file():
        pytest.skip(f"vendor spec {name} not available at {path.resolve()}")
    started = time.perf_counter()
    with path.open("rb") as handle:
        data = yaml.load(handle, Loader=_SpecLoader)
    _LOAD_TIMES[name] = time.perf_counter() - started
    return data


def _drop_empty_content(node: Any) -> None:
    """OAS: ``content: {}`` means "no body"; openapi-core reads the key as "a body is required".

    Also makes status keys strings: OAS says they are strings, but specs written with unquoted
    codes (``200:``, brevo.yaml) load as YAML integers, which openapi-core cannot look up."""
    if isinstance(node, dict):
        responses = node.get("responses")
        if isinstance(responses, dict) and any(isinstance(k, int) for k in responses):
            node["responses"] = responses = {str(k): v for k, v in responses.items()}
        if isinstance(responses, dict):
            for response in responses.values():
                if isinstance(response, dict) and response.get("content") == {}:
                    del response["content"]
        for value in node.values():
            _drop_empty_content(value)
    elif isinstance(node, list):
        for value in node:
            _drop_empty_content(value)


def _drop_security(spec: dict[str, Any]) -> None:
    """Auth is the sandbox's own tests' job; openapi-core stops at a failed security check
    without looking at parameters or body, which is what a contract test is for."""
    spec.pop("security", None)
    for item in (spec.get("paths") or {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            if isinstance(operation, dict):
                operation.pop("security", None)


def _mailchimp_merge_field_values(spec: dict[str, Any]) -> None:
    """Derived-conversion error: ``merge_fields`` values are typed ``object`` in this spec, but
    the API takes (and the official SDK sends) strings and numbers too (objects only for
    address fields, see the Merge Fields documentation the spec itself links). Untype them."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            merge = node.get("merge_fields")
            if isinstance(merge, dict) and isinstance(merge.get("additionalProperties"), dict):
                merge["additionalProperties"].pop("type", None)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


def _mailchimp_member_schema(spec: dict[str, Any]) -> None:
    """Derived-conversion error: the generator gave the member collection (``members``,
    ``total_items``) the name ``List_Members_2``, made its ``members`` items refer to itself and
    made the single-member responses use it too, so a member would never be checked. Point
    both at ``List_Members``, the schema that describes one member (email_address, status...)."""
    member = {"$ref": "#/components/schemas/List_Members"}
    collection = spec["components"]["schemas"]["List_Members_2"]
    collection["properties"]["members"]["items"] = member
    paths = spec["paths"]
    targets = [
        paths["/lists/{list_id}/members/{subscriber_hash}"].get(m) for m in ("get", "put", "patch")
    ]
    targets.append(paths["/lists/{list_id}/members"].get("post"))
    for operation in targets:
        ok = ((operation or {}).get("responses") or {}).get("200") or {}
        for media in (ok.get("content") or {}).values():
            if media.get("schema", {}).get("$ref", "").endswith("/List_Members_2"):
                media["schema"] = dict(member)


def _mailchimp_empty_opt_in_times(spec: dict[str, Any]) -> None:
    """The API answers ``"timestamp_opt": ""`` (and ``timestamp_signup``) for a member who never
    opted in / has no recorded signup — the documented "empty string when unset" convention the
    conversion's ``format: date-time`` does not allow. Accept a date-time or an empty string."""
    member = spec["components"]["schemas"]["List_Members"]["properties"]
    for name in ("timestamp_opt", "timestamp_signup"):
        prop = member.get(name)
        if isinstance(prop, dict) and prop.get("format") == "date-time":
            description = prop.get("description", "")
            member[name] = {
                "description": description,
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "string", "maxLength": 0},
                ],
            }


_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _add_undeclared_errors(spec: dict[str, Any], statuses: dict[str, str], schema: str) -> None:
    """Give every operation that declares neither the status nor ``default`` a JSON response
    with `schema` for each of `statuses` (status -> description). For errors a vendor
    documents as answered by every endpoint (auth, rate limit) but the spec lists on a few."""
    for item in (spec.get("paths") or {}).values():
        for method in _METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "default" in responses:
                continue
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": schema}}},
                    },
                )


def _brevo_auth_and_rate_limit(spec: dict[str, Any]) -> None:
    """Omission: the spec's own introduction says any call may answer ``401 Authentication
    Needed``, and Brevo's rate-limit page says over-limit calls answer ``429``, but most
    operations (``GET /contacts`` declares only 200) list neither. Both come in the spec's
    ``errorModel`` shape (``{code, message}``)."""
    _add_undeclared_errors(
        spec,
        {"401": "Authentication needed", "429": "Too many requests"},
        "#/components/schemas/errorModel",
    )


def _brevo_list_membership_variants(spec: dict[str, Any]) -> None:
    """Defect: add/remove-contacts-to-list bodies are ``oneOf`` by emails / ids / extIds (/ all),
    but no variant requires its property, so every body matches all of them and ``oneOf``
    rejects it. The descriptions say which property each variant is about ("Required if …");
    make it required in its variant."""
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        if name.startswith(("addContactToListBy", "removeContactFromListBy")):
            props = list((schema.get("properties") or {}).keys())
            if len(props) == 1 and "required" not in schema:
                schema["required"] = props


def _brevo_empty_membership_results(spec: dict[str, Any]) -> None:
    """Defect: ``postContactInfo.contacts.success``/``failure`` are ``oneOf`` [array of ids,
    array of emails]; an empty list (nothing failed) matches both, so ``oneOf`` rejects the
    commonest answer. ``anyOf`` keeps both item types and accepts an empty list."""
    contacts = spec["components"]["schemas"]["postContactInfo"]["properties"]["contacts"]
    for name in ("success", "failure"):
        prop = contacts["properties"].get(name)
        if isinstance(prop, dict) and "oneOf" in prop:
            prop["anyOf"] = prop.pop("oneOf")


def _nullable_optional_properties(spec: dict[str, Any], names: tuple[str, ...]) -> None:
    """Mark every non-required property of the named schemas ``nullable`` (one level)."""
    schemas = spec["components"]["schemas"]
    for name in names:
        schema = schemas.get(name) or {}
        required = set(schema.get("required") or ())
        for prop_name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and prop_name not in required:
                if "$ref" in prop:
                    schema["properties"][prop_name] = {"allOf": [prop], "nullable": True}
                else:
                    prop["nullable"] = True
                    if isinstance(prop.get("enum"), list) and None not in prop["enum"]:
                        prop["enum"] = [*prop["enum"], None]


def _zendesk_null_unset_fields(spec: dict[str, Any]) -> None:
    """Omission: the spec's user, ticket and organization objects never say ``nullable``, yet
    Zendesk sends ``null`` for every unset field, as the spec's own examples show
    (``external_id: null``, ``group_id: null``). Unset optional fields may be null."""
    _nullable_optional_properties(
        spec, ("UserForAdmin", "UserForEndUser", "TicketObject", "OrganizationObject")
    )


def _zendesk_job_results(spec: dict[str, Any]) -> None:
    """Defect: job results are ``oneOf`` created/updated/failed, but Zendesk's bulk-create
    results are ``{"id", "index"}`` (documented "Results" section) and a failed create has no
    ``id`` although ``FailedResult`` requires one. Accept any of the three shapes (``anyOf``)
    with ``FailedResult`` requiring only ``success`` and ``error``."""
    schemas = spec["components"]["schemas"]
    result = schemas["JobStatusResultObject"]
    if "oneOf" in result:
        result["anyOf"] = result.pop("oneOf")
    schemas["FailedResult"]["required"] = ["error"]


def _zendesk_cursor_without_start_time(spec: dict[str, Any]) -> None:
    """Defect: the cursor-based incremental exports share the ``start_time`` parameter marked
    required, but its sibling ``cursor`` is documented as "for all subsequent exports after the
    initial request" and Zendesk's own ``after_url`` carries only ``cursor``. On those paths,
    ``start_time`` is optional."""
    ref = "#/components/parameters/IncrementalUnixTime"
    optional = {**spec["components"]["parameters"]["IncrementalUnixTime"], "required": False}
    for path, item in spec["paths"].items():
        if path.startswith("/api/v2/incremental/") and path.endswith("/cursor"):
            item["parameters"] = [
                dict(optional) if p.get("$ref") == ref else p for p in item.get("parameters", [])
            ]


_ZENDESK_ERROR = {
    "type": "object",
    "description": "Zendesk error: {error, description, details} (REST API 'Errors' page).",
    "required": ["error"],
    "properties": {
        "error": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "description": {"type": "string"},
        "details": {"type": "object"},
    },
}


def _zendesk_error_statuses(spec: dict[str, Any]) -> None:
    """Omission: most operations declare only their success status, while Zendesk documents
    400/401/403/404/422/429/5xx answers (``{"error", "description", "details"}``) for any call
    (the "Response format" / "Rate limits" pages). Declare them where the spec does not."""
    spec["components"]["schemas"]["RevsyncZendeskError"] = _ZENDESK_ERROR
    _add_undeclared_errors(
        spec,
        {s: "Zendesk error" for s in ("400", "401", "403", "404", "409", "422", "429", "500")},
        "#/components/schemas/RevsyncZendeskError",
    )


def _intercom_error_statuses(spec: dict[str, Any]) -> None:
    """Omission: many operations list only 200/401, while Intercom documents ``404`` (not
    found), ``409`` (a contact with that email/external_id exists) and ``429`` (rate limit) for
    any call, in the spec's own ``error`` (``error.list``) shape."""
    _add_undeclared_errors(
        spec,
        {"404": "Not found", "409": "Conflict", "429": "Too many requests"},
        "#/components/schemas/error",
    )


def _freshdesk_nullable_as_31(spec: dict[str, Any]) -> None:
    """Reconstruction defect: the file declares OpenAPI 3.1 but marks optional fields with 3.0
    ``nullable: true``, which a 3.1 validator ignores, so the nulls the real API sends (and the
    authors meant to allow) fail. Translate each into its 3.1 form, ``type: [T, "null"]``."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


def _freshdesk_error_statuses(spec: dict[str, Any]) -> None:
    """Omission: Freshdesk documents ``409`` (duplicate unique value, e.g. a contact's email)
    and ``429`` (rate limit, with ``Retry-After``) for any write / any call; the
    reconstruction lists neither. Both in its ``Error`` shape."""
    _add_undeclared_errors(
        spec, {"409": "Conflict", "429": "Too many requests"}, "#/components/schemas/Error"
    )


SPEC_PATCHES: dict[str, tuple[Callable[[dict[str, Any]], None], ...]] = {
    "mailchimp-marketing.yaml": (
        _mailchimp_merge_field_values,
        _mailchimp_member_schema,
        _mailchimp_empty_opt_in_times,
    ),
    "brevo.yaml": (
        _brevo_auth_and_rate_limit,
        _brevo_list_membership_variants,
        _brevo_empty_membership_results,
    ),
    "zendesk-support.yaml": (
        _zendesk_null_unset_fields,
        _zendesk_job_results,
        _zendesk_cursor_without_start_time,
        _zendesk_error_statuses,
    ),
    "intercom.yaml": (_intercom_error_statuses,),
    "freshdesk.yaml": (_freshdesk_nullable_as_31, _freshdesk_error_statuses),
}
"""Known, documented defects of a spec, corrected in memory before validation (never on disk).
Each patch's docstring says what is wrong with the spec and why the correction is right."""


@functools.cache
def load_spec(name: str) -> OpenAPI:
    """The openapi-core object for ``vendor-specs/<name>``, parsed once per process."""
    started = time.perf_counter()
    spec = _spec_dict(name)
    _drop_empty_content(spec)
    _drop_security(spec)
    for patch in SPEC_PATCHES.get(name, ()):
        patch(spec)
    config = Config(
        spec_validator_cls=None,
        extra_media_type_deserializers={"application/problem+json": _json_loads},
        # `format: url` (zendesk-support.yaml's Location headers) is not an OAS format:
        # check it as an absolute http(s) URL rather than fail on an unknown format
        extra_format_validators={"url": _is_url},
        extra_format_unmarshallers={"url": str},
    )
    app = OpenAPI.from_dict(spec, config=config)
    _LOAD_TIMES[name] = _LOAD_TIMES.get(name, 0.0) + time.perf_counter() - started
    return app


def _is_url(value: Any) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def _json_loads(value: bytes | str, **_: Any) -> Any:
    return json.loads(value)


def load_times() -> dict[str, float]:
    """Seconds spent parsing each spec loaded so far (YAML + openapi-core)."""
    return dict(_LOAD_TIMES)


def spec_server_url(name: str) -> str:
    """The spec's first server URL with its variables at their default values."""
    servers = _spec_dict(name).get("servers") or [{"url": "/"}]
    server = servers[0]
    url = str(server["url"])
    for var, spec in (server.get("variables") or {}).items():
        url = url.replace("{" + var + "}", str(spec.get("default", var)))
    return url.rstrip("/")


class _Request:
    """openapi-core's Request protocol over an httpx request, re-based on the spec's server."""

    def __init__(self, request: httpx.Request, server_base: str, spec_server: str) -> None:
        url = str(request.url)
        base = server_base.rstrip("/")
        if not url.startswith(base):
            raise ValueError(f"{url} is not under the sandbox base {base}")
        target = urlsplit(spec_server + url[len(base) :])
        self.host_url = f"{target.scheme}://{target.netloc}"
        self.path = target.path
        self.method = request.method.lower()
        content = request.content if request.stream is not None else b""
        self.body: bytes | None = content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(target.query, keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    """openapi-core's Response protocol over an httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data: bytes | None = response.content
        self.content_type = response.headers.get("content-type", "").split(";")[0].strip()
        self.headers = Headers(dict(response.headers))


def _errors(exc: BaseException) -> list[str]:
    out = [f"{type(exc).__name__}: {exc}"]
    for attr in ("schema_errors", "errors"):
        for inner in getattr(exc, attr, None) or []:
            out.append(f"  - {getattr(inner, 'message', inner)}")
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        out.extend("  " + line for line in _errors(exc.__cause__))
    return out


def validate_request(
    spec_name: str,
    request: httpx.Request,
    *,
    server_base: str,
    spec_server: str | None = None,
) -> None:
    """Raise :class:`ContractViolation` unless `request` is valid for the spec (auth ignored)."""
    app = load_spec(spec_name)
    adapted = _Request(request, server_base, spec_server or spec_server_url(spec_name))
    result = app.unmarshal_request(adapted)
    problems = [e for e in result.errors if not isinstance(e, SecurityValidationError)]
    if problems:
        lines = [line for e in problems for line in _errors(e)]
        raise ContractViolation(
            f"{spec_name}: request {request.method} {request.url} violates the spec:\n"
            + "\n".join(lines)
        )


def validate_response(
    spec_name: str,
    request: httpx.Request,
    response: httpx.Response,
    *,
    server_base: str,
    spec_server: str | None = None,
) -> None:
    """Raise :class:`ContractViolation` unless `response` is what the spec says `request` gets."""
    app = load_spec(spec_name)
    adapted = _Request(request, server_base, spec_server or spec_server_url(spec_name))
    try:
        result = app.unmarshal_response(adapted, _Response(response))
    except OpenAPIError as exc:
        raise ContractViolation("\n".join(_errors(exc))) from exc
    if result.errors:
        lines = [line for e in result.errors for line in _errors(e)]
        raise ContractViolation(
            f"{spec_name}: response {response.status_code} to {request.method} {request.url} "
            "violates the spec:\n" + "\n".join(lines)
        )


def validate_exchange(
    spec_name: str,
    request: httpx.Request,
    response: httpx.Response,
    *,
    server_base: str,
    spec_server: str | None = None,
) -> None:
    """Validate both sides of one exchange (see the module docstring)."""
    validate_request(spec_name, request, server_base=server_base, spec_server=spec_server)
    validate_response(
        spec_name, request, response, server_base=server_base, spec_server=spec_server
    )


@contextmanager
def recording_client(
    exchanges: list[tuple[httpx.Request, httpx.Response]], **client_kwargs: Any
) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` that appends every (request, response) it completes to `exchanges`."""

    def keep(response: httpx.Response) -> None:
        response.read()
        exchanges.append((response.request, response))

    hooks = dict(client_kwargs.pop("event_hooks", {}) or {})
    hooks["response"] = [*hooks.get("response", []), keep]
    with httpx.Client(event_hooks=hooks, **client_kwargs) as client:
        yield client


def request_from_log(entry: Mapping[str, Any], sandbox_base: str) -> httpx.Request:
    """Rebuild a request from a ``/_sandbox/requests`` log entry (method, path, query, headers,
    body) under `sandbox_base`, e.g. to validate what a connector sent."""
    url = sandbox_base.rstrip("/") + entry["path"]
    if entry.get("query"):
        url += "?" + entry["query"]
    headers = {
        k: v for k, v in entry.get("headers", {}).items() if k.lower() not in ("content-length",)
    }
    body = entry.get("body") or ""
    return httpx.Request(entry["method"], url, headers=headers, content=body.encode())
