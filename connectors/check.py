"""`revsync check`: prove a connection works before a scheduled run finds out it does not.

Two probes, both declared by the connector and both writing nothing: the read probe is the
manifest's own ``check:`` stream run by the CDK (the same auth, paths and error messages the
sync reads with); the write probe is the ``check.write_probe`` of ``connector.yaml``, sent
through the client the writers use (auth, retries, limiter). The rate-limit headroom comes from
the headers the tool declares, or from its allocation endpoint (``check.quota``) where it has
one. No tool is named here.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.connections import Connection
from connectors.errors import ConfigError, classify_response, scrub, vendor_message
from connectors.http import build_client
from connectors.providers import Provider, QuotaProbe, WriteProbe, provider_for
from connectors.ratelimit import RateLimitPolicy, remaining_from_usage
from connectors.retry import RetrySettings
from connectors.runner import check_stream

__all__ = ["CheckResult", "Probe", "check_connection", "fix_hint", "headroom"]

_CHECK_RETRY = RetrySettings(max_attempts=2, base_wait=0.5, max_wait=2.0, max_total_delay=5.0)


@dataclass
class Probe:
    """One call and what it showed."""

    name: str
    ok: bool
    detail: str


@dataclass
class CheckResult:
    tool: str
    base_url: str
    probes: list[Probe] = field(default_factory=list)
    headroom: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.probes) and all(p.ok for p in self.probes)

    def lines(self) -> list[str]:
        head = f"{self.tool}: {'OK' if self.ok else 'FAILED'} ({self.base_url})"
        out = [head] + [f"  {'ok ' if p.ok else 'XX '} {p.name}: {p.detail}" for p in self.probes]
        if self.headroom:
            out.append(f"  rate limit: {self.headroom}")
        return out


def fix_hint(tool: str) -> str:
    """How to fix a tool's credential, naming both places it can come from."""
    provider = provider_for(tool)
    return f"check {provider.env_var(provider.secret_name)} or run `revsync connect {tool}`"


class _Dotted(string.Formatter):
    """``{stats.member_count}`` looks into nested dicts (``str.format`` would use getattr)."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        value: Any = kwargs
        for part in field_name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value, field_name


def _render(template: str, values: Mapping[str, Any]) -> str:
    return _Dotted().format(template, **values)


def _dig(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body.get(part) if isinstance(body, Mapping) else None
    return body


def _window(seconds: float) -> str:
    return "per minute" if seconds == 60 else f"per {seconds:g}s"


def headroom(policy: RateLimitPolicy, response: httpx.Response | None) -> str | None:
    """What the declared rate-limit headers say is left in the current window."""
    names = policy.headers
    if names is not None and response is not None and names.used_of_limit is not None:
        usage = response.headers.get(names.used_of_limit)
        left = remaining_from_usage(usage)
        if names.remaining is None and left is not None:
            return f"{left} calls left ({usage})"
    if names is None or response is None or names.remaining is None:
        if policy.max_concurrency:
            return f"no rate-limit headers; at most {policy.max_concurrency} simultaneous calls"
        return None
    remaining = response.headers.get(names.remaining)
    if remaining is None:
        return None
    limit = response.headers.get(names.limit) if names.limit else None
    interval = response.headers.get(names.interval_ms) if names.interval_ms else None
    seconds = int(interval) / 1000 if interval and interval.isdigit() else policy.default_interval
    return f"{remaining} of {limit or '?'} calls left {_window(seconds)}"


def _failed(response: httpx.Response, provider: Provider, secrets: list[str]) -> str:
    tool, status = provider.tool, response.status_code
    said = scrub(vendor_message(response, rules=provider.errors), secrets)
    if status == 401:
        return f"{tool} rejected the credential (401): {fix_hint(tool)}"
    if status == 403:
        return f"{tool} refused the call (403: {said}); grant the missing scope, then re-run"
    if status == 404:
        return f"not found (404: {said}); check the base URL and options of the connection"
    kind = classify_response(response, provider.errors).value
    return f"{tool} answered {status} ({kind}: {said}); try again later"


def _write_probe(
    client: httpx.Client,
    probe: WriteProbe,
    provider: Provider,
    options: Mapping[str, str],
    secrets: list[str],
) -> tuple[Probe, httpx.Response]:
    name = _render(probe.name, options)
    response = client.request(
        probe.method,
        _render(probe.path, options),
        params={k: _render(str(v), options) for k, v in probe.params.items()} or None,
        json=probe.json_body,
    )
    status = response.status_code
    if status in probe.granted_statuses:
        return Probe(name, True, _render(probe.detail, options)), response
    if status >= 400:
        if status == 404 and probe.not_found:
            return Probe(name, False, _render(probe.not_found, options)), response
        return Probe(name, False, _failed(response, provider, secrets)), response
    try:
        body = response.json()
    except ValueError:
        body = {}
    if probe.expect:
        found = _dig(body, str(probe.expect["field"]))
        allowed = list(probe.expect.get("one_of") or [])
        if found not in allowed:
            why = f"{probe.expect['field']} is {found!r}, needs one of {allowed}"
            return Probe(name, False, why), response
    values = {**options, **body} if isinstance(body, Mapping) else dict(options)
    return Probe(name, True, _render(probe.detail, values)), response


def _quota(client: httpx.Client, probe: QuotaProbe) -> str | None:
    """What the allocation endpoint says is left; None when it cannot say (the probes that
    matter report failures)."""
    response = client.get(probe.path)
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    left, limit = _dig(body, probe.remaining), _dig(body, probe.limit)
    if left is None:
        return None
    return f"{left} of {limit if limit is not None else '?'} calls left ({probe.name})"


def check_connection(
    conn: Connection, *, transport: httpx.BaseTransport | None = None
) -> CheckResult:
    """Call the tool and report auth, scopes and rate-limit headroom; never raises for a 4xx.

    ``transport`` reaches the write probe only (the read probe is the CDK's own HTTP).
    """
    provider = provider_for(conn.tool)
    result = CheckResult(tool=conn.tool, base_url=conn.base_url)
    secrets = [s.get_secret_value() for s in conn.secrets.values()]
    read_ok, why = check_stream(conn)
    detail = "one page read" if read_ok else f"{why} (or run `revsync connect {conn.tool}`)"
    result.probes.append(Probe(provider.check.read, read_ok, detail))
    result.headroom = headroom(provider.rate_limit, None)
    probe = provider.check.write_probe
    if not read_ok or probe is None:
        return result
    try:
        with build_client(conn, transport=transport, retry=_CHECK_RETRY) as client:
            done, response = _write_probe(client, probe, provider, conn.options, secrets)
            quota = _quota(client, provider.check.quota) if provider.check.quota else None
        result.probes.append(done)
        result.headroom = quota or headroom(provider.rate_limit, response) or result.headroom
    except ConfigError as exc:
        result.probes.append(Probe("configuration", False, str(exc)))
    except httpx.HTTPError as exc:
        result.probes.append(
            Probe(
                "reach",
                False,
                f"cannot reach {conn.base_url} ({type(exc).__name__}); check the base URL "
                f"({provider.env_var('base_url')} or `revsync connect {conn.tool}`)",
            )
        )
    return result
