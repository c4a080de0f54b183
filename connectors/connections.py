"""How to reach one tool: base URL, secrets, options.

Secrets are ``SecretStr`` everywhere; :meth:`Connection.cdk_config` is the single place they are
revealed, because the Airbyte CDK wants plain config values.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.errors import ConfigError
from connectors.providers import provider_for

__all__ = ["Connection", "connection_from_env", "fill_template", "mailchimp_base_url"]

_DC_SUFFIX = re.compile(r"-([a-z]{2,4}\d{1,3})$")


class Connection(BaseModel):
    """One configured tool; safe to log (secrets render as ``**********``)."""

    model_config = ConfigDict(frozen=True)

    tool: str
    base_url: str
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    options: dict[str, str] = Field(default_factory=dict)

    def secret(self, name: str) -> SecretStr:
        """A named secret, or a ``ConfigError`` telling the operator which one is missing."""
        try:
            return self.secrets[name]
        except KeyError:
            raise ConfigError(
                f"missing secret {name!r}; set REVSYNC_{self.tool.upper()}_{name.upper()}",
                tool=self.tool,
            ) from None

    def option(self, name: str) -> str:
        """A required option such as Mailchimp's ``list_id``."""
        value = self.options.get(name)
        if not value:
            raise ConfigError(
                f"missing option {name!r}; set REVSYNC_{self.tool.upper()}_{name.upper()}",
                tool=self.tool,
            )
        return value

    def cdk_config(self) -> dict[str, Any]:
        """The manifest's config: the only place secrets leave their ``SecretStr``."""
        config: dict[str, Any] = dict(self.options)
        config["base_url"] = self.base_url.rstrip("/")
        for name, value in self.secrets.items():
            config[name] = value.get_secret_value()
        return config


def mailchimp_base_url(api_key: str) -> str:
    """``https://{dc}.api.mailchimp.com/3.0`` from the key's data-center suffix (``…-us6``)."""
    match = _DC_SUFFIX.search(api_key.strip())
    if match is None:
        raise ConfigError(
            "the Mailchimp API key has no data-center suffix (like '-us6'); "
            "check REVSYNC_MAILCHIMP_API_KEY or set REVSYNC_MAILCHIMP_BASE_URL",
            tool="mailchimp",
        )
    return provider_for("mailchimp").base_url_template.format(dc=match.group(1))


def fill_template(template: str, tool: str, options: Mapping[str, str]) -> str:
    """``template`` with its ``{name}`` fields taken from ``options`` (a Zendesk base URL's
    subdomain, its basic-auth username's email); a missing one names the variable to set."""
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    missing = [name for name in names if not str(options.get(name) or "").strip()]
    if missing:
        variables = ", ".join(f"REVSYNC_{tool.upper()}_{name.upper()}" for name in missing)
        raise ConfigError(f"{variables} not set", tool=tool)
    return template.format(**{name: str(options[name]).strip() for name in names})


def connection_from_env(tool: str, env: Mapping[str, str] | None = None) -> Connection:
    """Build a :class:`Connection` from ``REVSYNC_<TOOL>_*`` variables."""
    env = os.environ if env is None else env
    provider = provider_for(tool)
    prefix = f"REVSYNC_{tool.upper()}_"
    secret_var = prefix + provider.secret_name.upper()
    secret = env.get(secret_var, "").strip()
    if not secret:
        raise ConfigError(f"{secret_var} is not set", tool=tool)
    options = {
        name: env[prefix + name.upper()]
        for name in provider.required_options
        if env.get(prefix + name.upper())
    }
    missing = [name for name in provider.required_options if name not in options]
    if missing:
        names = ", ".join(prefix + name.upper() for name in missing)
        raise ConfigError(f"{names} not set", tool=tool)
    for name in provider.url_options:
        if env.get(prefix + name.upper(), "").strip():
            options[name] = env[prefix + name.upper()].strip()
    base_url = env.get(prefix + "BASE_URL", "").strip()
    if not base_url and tool == "mailchimp":
        base_url = mailchimp_base_url(secret)
    elif not base_url:
        try:
            base_url = fill_template(provider.base_url_template, tool, options)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (or set {prefix}BASE_URL)", tool=tool) from None
    return Connection(
        tool=tool,
        base_url=base_url.rstrip("/"),
        secrets={provider.secret_name: SecretStr(secret)},
        options=options,
    )
