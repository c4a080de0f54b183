"""Where an embedded Prefect server keeps its database when no server is configured.

Without ``PREFECT_API_URL`` Prefect starts a temporary server whose SQLite file lives under
``PREFECT_HOME`` (``~/.prefect``): a CLI run would leave state in the user's home. revsync keeps
it next to its own state store instead (``.revsync/prefect``), unless the user chose a home or
a server (in the environment or in the active profile).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["use_project_prefect_home"]


def _profile_names_a_server(profiles: Path) -> bool:
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = data.get("active", "ephemeral")
    settings = data.get("profiles", {}).get(active, {})
    return isinstance(settings, dict) and bool(settings.get("PREFECT_API_URL"))


def use_project_prefect_home(
    env: MutableMapping[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """Point ``PREFECT_HOME`` at ``<cwd>/.revsync/prefect`` when nothing else is configured;
    returns the directory chosen, or None when the user's settings stand. Call it before
    Prefect is imported."""
    env = os.environ if env is None else env
    if env.get("PREFECT_HOME") or env.get("PREFECT_API_URL"):
        return None
    profiles = Path(env.get("PREFECT_PROFILES_PATH") or Path.home() / ".prefect/profiles.toml")
    if _profile_names_a_server(profiles):
        return None
    home = (cwd or Path.cwd()) / ".revsync" / "prefect"
    home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level
    env["PREFECT_HOME"] = str(home)
    if profiles.is_file():
        env["PREFECT_PROFILES_PATH"] = str(profiles)  # the user's profile still applies
    return home
