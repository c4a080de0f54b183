"""Where a tool's connection comes from: Prefect blocks first, then the environment.

Sales ops connect real accounts once with ``revsync connect <tool>``: the secret goes into a
Prefect ``Secret`` block (encrypted by the server, never in a file of the repo, never a flow
parameter) and the non-secret settings (base URL, options such as Mailchimp's ``list_id``) into
a Prefect Variable. Every worker on every machine then finds them through the one Prefect server.
The environment variables stay the fallback the tests, the demo and a laptop use; a base URL set
either way is how the sandbox stands in for a real account.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import SecretStr

from connectors.connections import (
    Connection,
    connection_from_env,
    fill_template,
    mailchimp_base_url,
)
from connectors.errors import ConfigError
from connectors.providers import provider_for

__all__ = [
    "block_names",
    "connected",
    "resolve_connection",
    "save_connection",
    "secret_block_name",
    "settings_block_name",
]

logger = logging.getLogger(__name__)


def secret_block_name(tool: str) -> str:
    """``revsync-hubspot-access-token``: the Secret block holding the tool's credential."""
    secret = provider_for(tool).secret_name.replace("_", "-")
    return f"revsync-{tool}-{secret}"


def settings_block_name(tool: str) -> str:
    """``revsync-hubspot-settings``: the Variable with base URL and options (not secret)."""
    return f"revsync-{tool}-settings"


def block_names(tool: str) -> tuple[str, str]:
    return secret_block_name(tool), settings_block_name(tool)


def _load_secret(tool: str) -> SecretStr | None:
    from prefect.blocks.system import Secret

    try:
        block = cast("Secret[str]", Secret.load(secret_block_name(tool)))
    except ValueError:
        return None  # no such block: the environment decides
    except Exception as exc:  # no reachable server: the environment decides, say why once
        logger.debug("no Prefect blocks for %s (%s)", tool, type(exc).__name__)
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


def resolve_connection(tool: str, env: Mapping[str, str] | None = None) -> Connection:
    """The tool's connection: Secret/JSON blocks first, ``REVSYNC_<TOOL>_*`` variables next.

    Raises ``ConfigError`` naming both ways to fix it when neither holds the credential.
    """
    env = os.environ if env is None else env
    secret = _load_secret(tool)
    if secret is None:
        try:
            return connection_from_env(tool, env)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message}; run `revsync connect {tool}` or set the variable", tool=tool
            ) from None
    provider = provider_for(tool)
    settings = _load_settings(tool)
    prefix = f"REVSYNC_{tool.upper()}_"
    stored_options = settings.get("options") or {}
    options = {
        name: str(stored_options.get(name) or env.get(prefix + name.upper(), ""))
        for name in (*provider.required_options, *provider.url_options)
    }
    missing = [name for name in provider.required_options if not options.get(name)]
    if missing:
        raise ConfigError(
            f"{tool} option(s) {', '.join(missing)} not set; run `revsync connect {tool}`",
            tool=tool,
        )
    base_url = str(settings.get("base_url") or env.get(prefix + "BASE_URL", "")).strip()
    if not base_url:
        base_url = (
            mailchimp_base_url(secret.get_secret_value())
            if tool == "mailchimp"
            else fill_template(provider.base_url_template, tool, options)
        )
    return Connection(
        tool=tool,
        base_url=base_url.rstrip("/"),
        secrets={provider.secret_name: secret},
        options={name: value for name, value in options.items() if value},
    )


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
    secret: SecretStr,
    *,
    base_url: str | None = None,
    options: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Store the credential as a Secret block and the rest as a Variable; returns their names.

    Validates first (a Mailchimp key without data center and no base URL is refused), so a
    stored connection always resolves.
    """
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    provider = provider_for(tool)
    opts = {k: v for k, v in (options or {}).items() if v}
    missing = [name for name in provider.required_options if name not in opts]
    if missing:
        raise ConfigError(f"{tool} needs option(s): {', '.join(missing)}", tool=tool)
    if not base_url:
        prefix = f"REVSYNC_{tool.upper()}_"
        env_like = {prefix + provider.secret_name.upper(): secret.get_secret_value()}
        env_like.update({prefix + k.upper(): v for k, v in opts.items()})
        connection_from_env(tool, env_like)  # raises a ConfigError naming what is wrong
    secret_name, settings_name = block_names(tool)
    Secret(value=secret).save(secret_name, overwrite=True)
    settings: dict[str, Any] = {"options": opts}
    if base_url:
        settings["base_url"] = base_url.rstrip("/")
    Variable.set(settings_name, settings, overwrite=True)
    logger.info(
        "stored %s connection in Secret block %s and Variable %s", tool, secret_name, settings_name
    )
    return secret_name, settings_name
