"""Generate a new connector's files (``scripts/new-connector``), so every tool starts from the
same shape and the generated skeleton already loads, builds and imports; ``TODO`` marks each
place only the vendor's documentation can fill. ``connectors/README.md`` is the recipe.
"""

from __future__ import annotations

import argparse
import keyword
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from connectors.auth import AUTH_KINDS

__all__ = [
    "REPO_ROOT",
    "ScaffoldError",
    "auth_kinds",
    "main",
    "planned_files",
    "scaffold",
    "templated_auth_kinds",
    "writer_class_name",
]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"@([A-Za-z_]+)@")
_TITLE_UNSAFE = re.compile(r"[\x00-\x1f\"'\\{}@]")


def _render(template: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, template)


class ScaffoldError(ValueError):
    """A request the generator refuses (bad name, existing folder, unknown auth kind)."""


@dataclass(frozen=True)
class _Auth:
    """The pieces of one auth kind, as they appear in each generated file."""

    required: str
    properties: str
    """``connection_specification.properties`` entries (indented for their place)."""
    declaration: str
    """The ``auth:`` block of ``connector.yaml``."""
    authenticator: str
    """The manifest's ``definitions.authenticator`` body (the CDK's own authenticator)."""
    credential: str
    """The connection field a 401 is about."""
    readme: str


_SECRET_PROPERTY = """\
    @name@:
      type: string
      title: @label@
      description: "TODO: @what@"
      airbyte_secret: true
"""


def _secret(name: str, label: str, what: str) -> str:
    return _render(_SECRET_PROPERTY, {"name": name, "label": label, "what": what})


_AUTH: dict[str, _Auth] = {
    "bearer": _Auth(
        required="[access_token]",
        properties=_secret(
            "access_token", "access token", "the scopes (or role) reads and writes need"
        ),
        declaration="""\
auth:
  kind: bearer
  token: access_token
""",
        authenticator="""\
    type: BearerAuthenticator
    api_token: "{{ config['access_token'] }}"
""",
        credential="access_token",
        readme="""\
- `Authorization: Bearer <token>` (`connectors.auth.BearerAuth` for writes,
  `BearerAuthenticator` in the manifest for reads).
- Settings: `REVSYNC_@TOOL@_ACCESS_TOKEN`; `REVSYNC_@TOOL@_BASE_URL` (optional).
- TODO: how the token is created, the scopes reads and writes need, what 401 and 403 mean.
""",
    ),
    "basic": _Auth(
        required="[api_key, username]",
        properties=_secret("api_key", "API key", "where the key is created and what it may do")
        + """\
    username:
      type: string
      title: username
      description: "TODO: the HTTP Basic username (or write a constant in auth.username)"
""",
        declaration="""\
auth:
  kind: basic
  username: "{username}"   # TODO: a template over the options, or a constant
  password: api_key
""",
        authenticator="""\
    type: BasicHttpAuthenticator
    username: "{{ config['username'] }}"   # TODO: the same as auth.username in connector.yaml
    password: "{{ config['api_key'] }}"
""",
        credential="api_key",
        readme="""\
- HTTP Basic, the API key as password (`connectors.auth.ApiKeyBasicAuth` for writes,
  `BasicHttpAuthenticator` in the manifest for reads).
- Settings: `REVSYNC_@TOOL@_API_KEY`, `REVSYNC_@TOOL@_USERNAME`; `REVSYNC_@TOOL@_BASE_URL`
  (optional).
- TODO: how the key is created, what it may do, what 401 and 403 mean.
""",
    ),
    "basic_key_username": _Auth(
        required="[api_key]",
        properties=_secret("api_key", "API key", "where the key is created and what it may do"),
        declaration="""\
auth:
  kind: basic_key_username
  username: api_key
  password: "X"            # TODO: the constant the vendor wants (it ignores it)
""",
        authenticator="""\
    type: BasicHttpAuthenticator
    username: "{{ config['api_key'] }}"
    password: "X"          # TODO: the same constant as auth.password in connector.yaml
""",
        credential="api_key",
        readme="""\
- HTTP Basic, the API key as username and a constant password
  (`connectors.auth.KeyUsernameBasicAuth` for writes, `BasicHttpAuthenticator` in the manifest
  for reads).
- Settings: `REVSYNC_@TOOL@_API_KEY`; `REVSYNC_@TOOL@_BASE_URL` (optional).
- TODO: how the key is created, what it may do, what 401 and 403 mean.
""",
    ),
    "api_key_header": _Auth(
        required="[api_key]",
        properties=_secret("api_key", "API key", "where the key is created and what it may do"),
        declaration="""\
auth:
  kind: api_key_header
  header: X-API-Key        # TODO: the vendor's header name
  key: api_key
  # prefix: "Token "       # TODO: if the vendor wants one before the key
""",
        authenticator="""\
    type: ApiKeyAuthenticator
    api_token: "{{ config['api_key'] }}"
    inject_into:
      type: RequestOption
      inject_into: header
      field_name: X-API-Key   # TODO: the same header as auth.header in connector.yaml
""",
        credential="api_key",
        readme="""\
- The key in a header (`connectors.auth.ApiKeyHeaderAuth` for writes, `ApiKeyAuthenticator`
  in the manifest for reads). TODO: the header's name.
- Settings: `REVSYNC_@TOOL@_API_KEY`; `REVSYNC_@TOOL@_BASE_URL` (optional).
- TODO: how the key is created, what it may do, what 401 and 403 mean.
""",
    ),
    "api_key_query": _Auth(
        required="[api_key]",
        properties=_secret("api_key", "API key", "where the key is created and what it may do"),
        declaration="""\
auth:
  kind: api_key_query
  param: api_key           # TODO: the vendor's query parameter name
  key: api_key
""",
        authenticator="""\
    type: ApiKeyAuthenticator
    api_token: "{{ config['api_key'] }}"
    inject_into:
      type: RequestOption
      inject_into: request_parameter
      field_name: api_key   # TODO: the same parameter as auth.param in connector.yaml
""",
        credential="api_key",
        readme="""\
- The key as a query parameter (`connectors.auth.ApiKeyQueryAuth` for writes,
  `ApiKeyAuthenticator` in the manifest for reads); query strings are never logged.
- Settings: `REVSYNC_@TOOL@_API_KEY`; `REVSYNC_@TOOL@_BASE_URL` (optional).
- TODO: how the key is created, what it may do, what 401 and 403 mean.
""",
    ),
    "oauth2_refresh": _Auth(
        required="[client_secret, refresh_token, client_id]",
        properties=_secret("client_secret", "OAuth client secret", "the OAuth app it belongs to")
        + _secret("refresh_token", "refresh token", "the scopes the grant needs")
        + """\
    client_id:
      type: string
      title: OAuth client id
      description: "TODO: the OAuth app's client id"
""",
        declaration="""\
auth:
  kind: oauth2_refresh
  token_url: "{base_url}/oauth/token"   # TODO: the token endpoint (template over base_url, options)
  client_id: client_id
  client_secret: client_secret
  refresh_token: refresh_token
""",
        authenticator="""\
    type: OAuthAuthenticator
    # TODO: the same endpoint as auth.token_url in connector.yaml
    token_refresh_endpoint: "{{ config['base_url'] }}/oauth/token"
    client_id: "{{ config['client_id'] }}"
    client_secret: "{{ config['client_secret'] }}"
    refresh_token: "{{ config['refresh_token'] }}"
""",
        credential="client_secret",
        readme="""\
- OAuth2 refresh-token grant (`connectors.auth.OAuth2RefreshAuth` for writes: one refresh on
  401, then fatal; `OAuthAuthenticator` in the manifest for reads).
- Settings: `REVSYNC_@TOOL@_CLIENT_SECRET`, `REVSYNC_@TOOL@_REFRESH_TOKEN`,
  `REVSYNC_@TOOL@_CLIENT_ID`; `REVSYNC_@TOOL@_BASE_URL` (optional).
- TODO: the token endpoint, the scopes, whether refresh tokens rotate, what 401 and 403 mean.
""",
    ),
}


_CONNECTOR_YAML = """\
# @Title@: every fact revsync needs about the vendor, in one place (read side: manifest.yaml;
# write side: writer.py). Generated by scripts/new-connector: replace every TODO with the
# vendor's documented facts; connectors/README.md says what each field means.
tool: @tool@
title: "@Title@"
category: TODO             # TODO: crm | emailing | helpdesk | calling | ...
docs_url: https://TODO.example.invalid/docs   # TODO: the API reference of the synced objects
# TODO: the production base URL; {option} fields make it a template (a subdomain option).
base_url: https://api.TODO.example.invalid

# The connection's fields (Airbyte's spec.connection_specification is the model). Generated
# from them: the variables REVSYNC_@TOOL@_<FIELD>,
# the flags of `revsync connect @tool@`,
# the Secret blocks and the values scrubbed from logs.
# base_url is every tool's own field: do not declare it.
connection_specification:
  type: object
  required: @required@
  properties:
@properties@

@auth@
# TODO: the vendor's rate-limit facts. Headers it sends after every response, or
# max_concurrency when it caps simultaneous connections instead.
rate_limit:
  # headers:
  #   limit: X-RateLimit-Limit            # TODO
  #   remaining: X-RateLimit-Remaining    # TODO
  #   reset_seconds: X-RateLimit-Reset    # TODO (or interval_ms)
  min_remaining: 2
  default_interval: 60.0   # TODO: the window length in seconds

# errors:                  # TODO: only when the vendor's error bodies need it
#   rate_limit_body: {error: RATE_LIMITED}
#   message_fields: [message, detail]

writer:
  class: @Writer@
  batch_max: 100           # TODO: the most records one write call may carry

# What the tool can do per entity; the flow asks these, never the tool's name.
entities:
  person:
    create: upsert         # TODO: upsert | lookup_then_create | create_only | never

check:
  read: read contacts (TODO the permission reads need)
  # TODO: one cheap call, writing nothing, that proves the credentials may write:
  # write_probe:
  #   name: write permission
  #   method: GET
  #   path: TODO/me
  #   detail: ok

# TODO once sandbox/@tool@/ imitates the vendor: connection field -> constant of
# sandbox/credentials.py. With it and mappings/@tool@.yaml the live contract suite runs.
# sandbox:
#   @credential@: SANDBOX_@TOOL@_TODO

# The shared API budget `revsync budgets apply` creates (ops/budgets.yaml overrides it); every
# connector declares one. TODO: from the vendor's published rate, with a margin.
budget:
  burst: 10                # TODO
  per_second: 1            # TODO
  backfill_burst: 2        # TODO
  backfill_per_second: 0.5 # TODO
"""

_MANIFEST_YAML = """\
# @Title@ read side, generated by scripts/new-connector: one incremental stream, contacts,
# sorted ascending by its cursor. TODO marks what the vendor's API decides: the path, where the
# records sit in a page, the pagination and the modified-since filter.
version: 7.39.1
type: DeclarativeSource

check:
  type: CheckStream
  stream_names: [contacts]

definitions:
  authenticator:
@authenticator@
  error_handler:
    type: DefaultErrorHandler
    max_retries: 5
    backoff_strategies:
      - type: WaitTimeFromHeader
        header: Retry-After
      - type: ExponentialBackoffStrategy
        factor: 2
    response_filters:
      - type: HttpResponseFilter
        http_codes: [401]
        action: FAIL
        failure_type: config_error
        error_message: "@Title@ refused the credentials (401): check REVSYNC_@TOOL@_@CREDENTIAL@."
      - type: HttpResponseFilter
        http_codes: [403]
        action: FAIL
        failure_type: config_error
        error_message: "@Title@ refused access (403): TODO name the permission reads need."
      - type: HttpResponseFilter
        http_codes: [429]
        action: RATE_LIMITED
        error_message: "@Title@ rate limit reached; waiting as asked."
      - type: HttpResponseFilter
        http_codes: [500, 502, 503, 504]
        action: RETRY
        failure_type: transient_error
        error_message: "@Title@ had a server error; retrying."

  requester:
    type: HttpRequester
    url_base: "{{ config['base_url'] }}"
    path: "/TODO/contacts"   # TODO: the list (or search) endpoint
    http_method: GET
    authenticator:
      $ref: "#/definitions/authenticator"
    error_handler:
      $ref: "#/definitions/error_handler"
    request_parameters:
      sort: updated_at       # TODO: ascending by the cursor field, in the vendor's words

  paginator:
    type: DefaultPaginator
    page_size_option:
      type: RequestOption
      inject_into: request_parameter
      field_name: limit      # TODO
    page_token_option:
      type: RequestOption
      inject_into: request_parameter
      field_name: cursor     # TODO
    pagination_strategy:
      type: CursorPagination # TODO: or OffsetIncrement / PageIncrement
      page_size: 100         # TODO: the vendor's maximum page size
      cursor_value: "{{ response.get('next_cursor') }}"            # TODO
      stop_condition: "{{ not response.get('next_cursor') }}"     # TODO

  retriever:
    type: SimpleRetriever
    requester:
      $ref: "#/definitions/requester"
    record_selector:
      type: RecordSelector
      extractor:
        type: DpathExtractor
        field_path: [data]   # TODO: where the records sit in a page
    paginator:
      $ref: "#/definitions/paginator"

  incremental_sync:
    type: DatetimeBasedCursor
    cursor_field: updated_at # TODO: the record's last-modified field
    datetime_format: "%Y-%m-%dT%H:%M:%SZ"
    cursor_datetime_formats:
      - "%Y-%m-%dT%H:%M:%SZ"
      - "%Y-%m-%dT%H:%M:%S%z"
      - "%Y-%m-%dT%H:%M:%S.%fZ"
    start_datetime:
      type: MinMaxDatetime
      datetime: "{{ config.get('start_date', '2000-01-01T00:00:00Z') }}"
      datetime_format: "%Y-%m-%dT%H:%M:%SZ"
    start_time_option:
      type: RequestOption
      inject_into: request_parameter
      field_name: updated_since   # TODO: the vendor's modified-since filter
    # TODO: how far the vendor's index trails its writes (re-read a little behind the cursor).
    lookback_window: PT1M

streams:
  - type: DeclarativeStream
    name: contacts
    primary_key: id
    retriever:
      $ref: "#/definitions/retriever"
    incremental_sync:
      $ref: "#/definitions/incremental_sync"
    schema_loader:
      type: InlineSchemaLoader
      schema:
        $schema: "http://json-schema.org/draft-07/schema#"
        type: object
        additionalProperties: true
        required: [id, updated_at]
        # TODO: the record as the vendor returns it (every field mappings/@tool@.yaml reads)
        properties:
          id: {type: string}
          updated_at: {type: string, format: date-time}
          email: {type: [string, "null"]}
          first_name: {type: [string, "null"]}
          last_name: {type: [string, "null"]}
"""

_WRITER_PY = '''\
"""@Title@ write side.

TODO: which endpoint writes each entity and how many records one call carries; how a replayed
create (a crash between the vendor's answer and our commit) finds the record instead of making
a duplicate; how a partial answer maps back to each input.
"""

from __future__ import annotations

import logging

from connectors.errors import ConfigError
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["@Writer@"]

logger = logging.getLogger(__name__)

_ENTITIES = frozenset({"person"})


class @Writer@(HttpWriter):
    """:class:`connectors.writer.Writer` for @Title@."""

    tool = "@tool@"

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One outcome per item, in input order: a refused record is ``ok=False``, a whole
        call that fails after retries raises ``WriteFailed``."""
        if entity not in _ENTITIES:
            raise ConfigError(f"the @Title@ writer does not write {entity!r}", tool=self.tool)
        raise NotImplementedError(
            "TODO: @tool@ writer: send the items in chunks of self._batch_size with "
            "connectors.calls.send_json(self._client, ...) and map the answer back to one "
            "WriteOutcome per item (connectors/README.md, writer.py)"
        )
'''

_README_MD = """\
# @Title@ connector

Reads TODO through `manifest.yaml` (Airbyte low-code, run in-process by `connectors.runner`);
writes them through `writer.py` (`@Writer@`). Provider facts live in `connector.yaml`; the
mapping is `mappings/@tool@.yaml` (`person` = stream `contacts`).

## Auth

@readme_auth@
## Rate limits

- TODO: the published limits (per what, per which window), the headers that report them, what
  a 429 looks like (`Retry-After`?), any endpoint with its own lower limit.

## Pagination

TODO: cursor, offset or page; the page size used and the maximum; how the last page is told.

## Incremental

TODO: the modified-since filter, the cursor field, the state saved
(`{"updated_at": "..."}`), how far the index trails writes (the manifest's `lookback_window`).

## Batch writes

- TODO: the endpoint per entity, the batch maximum (`writer.batch_max`), the answer of a
  partial failure and how it maps back to each input, how a replayed create avoids duplicates.

## Quirks

- TODO: what the API does that its documentation does not say up front.

## References

- TODO API reference: https://TODO.example.invalid/docs
- TODO rate limits: https://TODO.example.invalid/docs/rate-limits
"""

_MAPPING_YAML = """\
# @Title@ contacts <-> unified person. Generated by scripts/new-connector.
#
# Record as read:      TODO: one record as the stream returns it
# Payload as written:  TODO: the body the writer sends
#
# Each field: unified = our name; tool = dotted path in the record as read;
# direction = both | in (read only) | out (write only); transform = value format
# (email, phone_e164, name, text, country, picklist, domain, full_name); identity = written on
# create only. mappings/README.md describes every key.

person:
  stream: contacts
  id_field: id
  updated_field: updated_at
  natural_key: email
  # write_root: properties   # TODO: when the written fields sit under one object of the record
  default_region: US

  fields:
    - {unified: email,      tool: email,      transform: email, identity: true}
    - {unified: first_name, tool: first_name, transform: name}
    - {unified: last_name,  tool: last_name,  transform: name}
    # TODO: phone, company, job_title, lifecycle_stage, city, country, as the tool holds them
"""


def auth_kinds() -> list[str]:
    """The auth kinds registered in ``connectors/auth.py`` (the ``--auth`` choices)."""
    return sorted(AUTH_KINDS)


def templated_auth_kinds() -> list[str]:
    """The auth kinds this generator has templates for (a test keeps them equal)."""
    return sorted(_AUTH)


def writer_class_name(tool: str) -> str:
    """``big_vendor`` -> ``BigVendorWriter``."""
    return "".join(part.capitalize() for part in tool.split("_") if part) + "Writer"


def planned_files(tool: str, root: Path) -> list[Path]:
    """The files :func:`scaffold` creates for ``tool`` under ``root``."""
    folder = root / "connectors" / tool
    return [
        folder / "connector.yaml",
        folder / "manifest.yaml",
        folder / "writer.py",
        folder / "README.md",
        folder / "__init__.py",
        root / "mappings" / f"{tool}.yaml",
    ]


def scaffold(
    tool: str, root: Path = REPO_ROOT, *, title: str | None = None, auth: str = "bearer"
) -> list[Path]:
    """Write the connector files for ``tool`` under ``root``; returns them in creation order.

    Refuses (``ScaffoldError``, nothing written) a name that is not a lowercase identifier, an
    auth kind not registered in ``connectors/auth.py``, and a folder or mapping that exists.
    """
    _check_name(tool)
    if auth not in AUTH_KINDS:
        raise ScaffoldError(f"unknown auth kind {auth!r}; registered: {', '.join(auth_kinds())}")
    if auth not in _AUTH:
        raise ScaffoldError(
            f"auth kind {auth!r} is registered but connectors/scaffold.py has no template for it"
        )
    folder = root / "connectors" / tool
    mapping = root / "mappings" / f"{tool}.yaml"
    for existing in (folder, mapping, root / "connectors" / f"{tool}.py"):
        if existing.exists():
            raise ScaffoldError(f"{existing} already exists; pick another name or remove it")

    spec = _AUTH[auth]
    title = (title or tool.replace("_", " ").title()).strip()
    if not title or _TITLE_UNSAFE.search(title):
        raise ScaffoldError(
            f"title {title!r} must be one line without quotes, backslashes, braces or @"
        )
    names = {
        "tool": tool,
        "TOOL": tool.upper(),
        "Title": title,
        "Writer": writer_class_name(tool),
        "credential": spec.credential,
        "CREDENTIAL": spec.credential.upper(),
    }
    values = {
        **names,
        "required": spec.required,
        "properties": spec.properties.rstrip("\n"),
        "auth": _render(spec.declaration, names),
        "authenticator": _render(spec.authenticator, names),
        "readme_auth": _render(spec.readme, names),
    }
    contents = [
        _render(_CONNECTOR_YAML, values),
        _render(_MANIFEST_YAML, values),
        _render(_WRITER_PY, values),
        _render(_README_MD, values),
        "",
        _render(_MAPPING_YAML, values),
    ]
    paths = planned_files(tool, root)
    folder.mkdir(parents=True)
    mapping.parent.mkdir(parents=True, exist_ok=True)
    for path, text in zip(paths, contents, strict=True):
        path.write_text(text, encoding="utf-8")
        logger.debug("wrote %s", path)
    return paths


def _check_name(tool: str) -> None:
    if not _NAME.fullmatch(tool) or keyword.iskeyword(tool):
        raise ScaffoldError(
            f"tool name {tool!r} must be a lowercase identifier "
            "(a letter, then letters, digits or _; not a Python keyword)"
        )


class _Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="new-connector",
        description="Generate connectors/<tool>/ and mappings/<tool>.yaml with TODO markers "
        "(connectors/README.md is the recipe).",
    )
    parser.add_argument("tool", help="lowercase identifier: folder, package and variable name")
    parser.add_argument(
        "--root",
        type=Path,
        default=REPO_ROOT,
        metavar="DIR",
        help="the directory holding connectors/ and mappings/ (default: the repository root)",
    )
    parser.add_argument(
        "--title",
        metavar="T",
        help="the vendor's name as people write it (default: the tool name, title-cased)",
    )
    parser.add_argument(
        "--auth",
        choices=auth_kinds(),
        default="bearer",
        help="the auth kind, from connectors/auth.py (default: bearer)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: 0 with the created files on stdout, 2 with one line on stderr if refused."""
    args = _parser().parse_args(argv)
    try:
        paths = scaffold(args.tool, args.root, title=args.title, auth=args.auth)
    except ScaffoldError as exc:
        sys.stderr.write(f"new-connector: {exc}\n")
        return 2
    for path in paths:
        sys.stdout.write(f"created {path}\n")
    sys.stdout.write(
        "next: replace every TODO (grep -rn TODO), then "
        f".venv/bin/pytest tests/connectors -k {args.tool}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
