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
into the project, parsed once per process (C YAML loader; ``zendesk-support.yaml`` needs its
YAML-1.1 ``=`` value tag read as a plain string) and cached with their openapi-core objects;
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
    "SPECS_DIR",
    "SPEC_PATCHES",
    "ContractViolation",
    "load_spec",
    "load_times",
    "recording_client",
    "request_from_log",
    "require_specs",
    "spec_server_url",
    "validate_exchange",
    "validate_request",
    "validate_response",
]

SPECS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "vendor-specs"
_LOAD_TIMES: dict[str, float] = {}


class ContractViolation(AssertionError):
    """The exchange does not match the spec; the message lists every error found."""


def require_specs(*names: str) -> pytest.MarkDecorator:
    """A skip marker for when ``../shared/vendor-specs`` (or a named spec) is not there."""
    missing = [n for n in names if not (SPECS_DIR / n).is_file()]
    reason = (
        f"vendor specs not available: {SPECS_DIR.resolve()} lacks {', '.join(missing) or 'it'}"
        " (the contract tests need the shared ../shared/vendor-specs folder)"
    )
    return pytest.mark.skipif(not SPECS_DIR.is_dir() or bool(missing), reason=reason)


class _SpecLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loader (C when available) that reads YAML 1.1's ``=`` "value" tag as a string."""


def _value_as_string(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_SpecLoader.add_constructor("tag:yaml.org,2002:value", _value_as_string)


@functools.cache
def _spec_dict(name: str) -> dict[str, Any]:
    path = SPECS_DIR / name
    if not path.is_file():
        pytest.skip(f"vendor spec {name} not available at {path.resolve()}")
    started = time.perf_counter()
    with path.open("rb") as handle:
        data = yaml.load(handle, Loader=_SpecLoader)
    _LOAD_TIMES[name] = time.perf_counter() - started
    return data


def _drop_empty_content(node: Any) -> None:
    """OAS: ``content: {}`` means "no body"; openapi-core reads the key as "a body is required"."""
    if isinstance(node, dict):
        responses = node.get("responses")
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


SPEC_PATCHES: dict[str, tuple[Callable[[dict[str, Any]], None], ...]] = {
    "mailchimp-marketing.yaml": (
        _mailchimp_merge_field_values,
        _mailchimp_member_schema,
        _mailchimp_empty_opt_in_times,
    ),
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
    )
    app = OpenAPI.from_dict(spec, config=config)
    _LOAD_TIMES[name] = _LOAD_TIMES.get(name, 0.0) + time.perf_counter() - started
    return app


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
