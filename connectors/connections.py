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

__all__ = [
    "Connection",
    "base_url_from_secret",
    "build_connection",
    "connection_from_env",
    "fill_template",
]


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
        """A required option (an audience id, an agent email)."""
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


def base_url_from_secret(tool: str, secrets: Mapping[str, SecretStr]) -> str | None:
    """The base URL a connector derives from a secret (a key's data-center suffix), if any."""
    provider = provider_for(tool)
    rule = provider.base_url_from_secret
    if rule is None:
        return None
    value = secrets.get(rule.secret)
    match = re.search(rule.pattern, value.get_secret_value().strip()) if value else None
    if match is None:
        var = provider.env_var(rule.secret)
        raise ConfigError(
            f"{rule.missing}; check {var} or set {provider.env_var('base_url')}", tool=tool
        )
    return provider.base_url_template.format(**match.groupdict())


def fill_template(template: str, tool: str, options: Mapping[str, str]) -> str:
    """``template`` with its ``{name}`` fields taken from ``options`` (a base URL's
    subdomain, a basic-auth username's email); a missing one names the variable to set."""
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    missing = [name for name in names if not str(options.get(name) or "").strip()]
    if missing:
        variables = ", ".join(f"REVSYNC_{tool.upper()}_{name.upper()}" for name in missing)
        raise ConfigError(f"{variables} not set", tool=tool)
    return template.format(**{name: str(options[name]).strip() for name in names})


def build_connection(
    tool: str,
    secrets: Mapping[str, SecretStr],
    options: Mapping[str, str],
    base_url: str | None = None,
) -> Connection:
    """A :class:`Connection` from its declared fields, wherever they were stored.

    Checks what the tool's ``connection_specification`` requires, naming the variables to
    set; without a base URL, derives it from a secret or fills the template from the options.
    """
    provider = provider_for(tool)
    missing = [
        provider.env_var(f.name)
        for f in provider.fields
        if f.required
        and not (secrets.get(f.name) if f.secret else str(options.get(f.name) or "").strip())
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set", tool=tool)
    known = {f.name for f in provider.option_fields}
    opts = {k: str(v).strip() for k, v in options.items() if k in known and str(v or "").strip()}
    url = (base_url or "").strip()
    if not url:
        try:
            url = base_url_from_secret(tool, secrets) or fill_template(
                provider.base_url_template, tool, opts
            )
        except ConfigError as exc:
            if provider.base_url_from_secret is not None:
                raise
            raise ConfigError(
                f"{exc.message} (or set {provider.env_var('base_url')})", tool=tool
            ) from None
    names = {f.name for f in provider.secret_fields}
    return Connection(
        tool=tool,
        base_url=url.rstrip("/"),
        secrets={k: v for k, v in secrets.items() if k in names},
        options=opts,
    )


def connection_from_env(tool: str, env: Mapping[str, str] | None = None) -> Connection:
    """Build a :class:`Connection` from ``REVSYNC_<TOOL>_<FIELD>`` variables."""
    env = os.environ if env is None else env
    provider = provider_for(tool)
    values = {f.name: env.get(provider.env_var(f.name), "").strip() for f in provider.fields}
    secrets = {f.name: SecretStr(values[f.name]) for f in provider.secret_fields if values[f.name]}
    options = {f.name: values[f.name] for f in provider.option_fields if values[f.name]}
    return build_connection(tool, secrets, options, env.get(provider.env_var("base_url")))
