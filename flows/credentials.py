"""Where a tool's connection comes from: Prefect blocks first, then the environment.

Sales ops connect real accounts once with ``revsync connect <tool>``: each secret field of the
tool's ``connection_specification`` goes into its own Prefect ``Secret`` block (encrypted by the
server, never in a file of the repo, never a flow parameter) and the non-secret settings (base
URL, options) into a Prefect Variable. Every worker on every machine then finds them through the
one Prefect server. The environment variables stay the fallback the tests, the demo and a
laptop use; a base URL set either way is how the sandbox stands in for a real account.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import SecretStr

from connectors.connections import Connection, build_connection, connection_from_env
from connectors.errors import ConfigError
from connectors.providers import provider_for

__all__ = [
    "block_names",
    "connected",
    "forget_connections",
    "resolve_connection",
    "save_connection",
    "secret_block_name",
    "secret_block_names",
    "settings_block_name",
]

logger = logging.getLogger(__name__)


def secret_block_name(tool: str, field: str | None = None) -> str:
    """``revsync-<tool>-<field>``: the Secret block holding one secret field (default: the
    tool's first)."""
    name = field or provider_for(tool).secret_name
    return f"revsync-{tool}-{name.replace('_', '-')}"


def secret_block_names(tool: str) -> dict[str, str]:
    """Secret field -> its Secret block name, for every secret the tool declares."""
    return {f.name: secret_block_name(tool, f.name) for f in provider_for(tool).secret_fields}


def settings_block_name(tool: str) -> str:
    """``revsync-<tool>-settings``: the Variable with base URL and options (not secret)."""
    return f"revsync-{tool}-settings"


def block_names(tool: str) -> tuple[str, str]:
    return secret_block_name(tool), settings_block_name(tool)


def _load_secret(name: str) -> SecretStr | None:
    from prefect.blocks.system import Secret

    try:
        block = cast("Secret[str]", Secret.load(name))
    except ValueError:
        return None  # no such block: the environment decides
    except Exception as exc:  # no reachable server: the environment decides, say why once
        logger.debug("no Prefect block %s (%s)", name, type(exc).__name__)
        return None
    value = block.get()
    return SecretStr(str(value)) if value else None


def _load_settings(tool: str) -> dict[str, Any]:
    from prefect.variables import Variable

    try:
        value = Variable.get(settings_block_name(tool), default=None)
    except Exception as exc:
        logger.debug("no Prefect settings variable for %s (%s)", tool, type(exc).__name__)
        return {}
    return dict(value) if isinstance(value, dict) else {}


CACHE_SECONDS = 30.0
"""How long a resolved connection is reused: a run resolves each tool's many times (every
stream read, every apply), and each resolution asks the Prefect server for its blocks."""

_resolved: dict[str, tuple[float, tuple[tuple[str, str], ...], Connection]] = {}


def resolve_connection(tool: str, env: Mapping[str, str] | None = None) -> Connection:
    """The tool's connection: Secret blocks and the settings Variable first, the
    ``REVSYNC_<TOOL>_*`` variables next (field by field).

    Raises ``ConfigError`` naming both ways to fix it when neither holds the credential.
    Reused for ``CACHE_SECONDS`` while the tool's variables stay the same;
    :func:`save_connection` forgets it.
    """
    if env is not None:
        return _resolve(tool, env)
    prefix = f"REVSYNC_{tool.upper()}_"
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(prefix)))
    cached = _resolved.get(tool)
    now = time.monotonic()
    if cached is not None and cached[1] == variables and now - cached[0] < CACHE_SECONDS:
        return cached[2]
    conn = _resolve(tool, os.environ)
    _resolved[tool] = (now, variables, conn)
    return conn


def forget_connections() -> None:
    """Drop every reused connection (a block changed outside :func:`save_connection`)."""
    _resolved.clear()


def _resolve(tool: str, env: Mapping[str, str]) -> Connection:
    provider = provider_for(tool)
    first = _load_secret(secret_block_name(tool))
    if first is None:
        try:
            return connection_from_env(tool, env)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message}; run `revsync connect {tool}` or set the variable", tool=tool
            ) from None
    secrets: dict[str, SecretStr] = {provider.secret_name: first}
    for field in provider.secret_fields[1:]:
        value = _load_secret(secret_block_name(tool, field.name))
        if value is None and env.get(field.env_var(tool), "").strip():
            value = SecretStr(env[field.env_var(tool)].strip())
        if value is not None:
            secrets[field.name] = value
    settings = _load_settings(tool)
    stored = settings.get("options") or {}
    options = {
        f.name: str(stored.get(f.name) or env.get(f.env_var(tool), "")).strip()
        for f in provider.option_fields
    }
    base_url = str(settings.get("base_url") or env.get(provider.env_var("base_url"), ""))
    try:
        return build_connection(tool, secrets, options, base_url)
    except ConfigError as exc:
        raise ConfigError(f"{exc.message}; run `revsync connect {tool}`", tool=tool) from None


def connected(tools: Iterable[str]) -> list[str]:
    """The ``tools`` that have a connection (blocks or variables), in the order given."""
    out: list[str] = []
    for tool in tools:
        try:
            resolve_connection(tool)
        except ConfigError:
            logger.info("%s is not connected: left out", tool)
            continue
        out.append(tool)
    return out


def save_connection(
    tool: str,
    secrets: SecretStr | Mapping[str, SecretStr],
    *,
    base_url: str | None = None,
    options: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Store each secret as a Secret block and the rest as a Variable; returns the first
    secret's block name and the Variable's.

    Validates first (a key without its data center and no base URL is refused), so a stored
    connection always resolves.
    """
    _resolved.pop(tool, None)
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    provider = provider_for(tool)
    given = {provider.secret_name: secrets} if isinstance(secrets, SecretStr) else dict(secrets)
    opts = {k: v for k, v in (options or {}).items() if v}
    build_connection(tool, given, opts, base_url)  # raises a ConfigError naming what is wrong
    for name, value in given.items():
        Secret(value=value).save(secret_block_name(tool, name), overwrite=True)
    settings: dict[str, Any] = {"options": opts}
    if base_url:
        settings["base_url"] = base_url.rstrip("/")
    secret_name, settings_name = block_names(tool)
    Variable.set(settings_name, settings, overwrite=True)
    logger.info(
        "stored %s connection in Secret block(s) %s and Variable %s",
        tool,
        ", ".join(secret_block_name(tool, n) for n in given),
        settings_name,
    )
    return secret_name, settings_name
