"""One line that says what failed and what to do, for the run's final state and its logs.

The admin reads it in the flow-run list of the Prefect UI and in the notification; it names the
tool and the fix (the variable or ``revsync connect``), never a secret.
"""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from connectors.errors import ConfigError, ConnectorError, ErrorClass
from connectors.providers import UnknownTool, providers
from mappings.errors import MappingConfigError

__all__ = ["SyncFailed", "UsageError", "failure_line", "with_failure_line"]


class SyncFailed(RuntimeError):
    """A run stopped on a problem an operator must fix; the message is the one-liner."""


class UsageError(ValueError):
    """A command named something that is not there or cannot be done any more (an unknown
    review id, a pair already decided); the message is the whole line."""


_ONE_LINE = "_revsync_failure_line"
"""Attribute marking an exception whose message already is the one-liner (it went through
:func:`with_failure_line` inside the flow); the CLI prints it as it is."""


def _fix(tool: str) -> str:
    provider = providers().get(tool)
    if provider is None:
        return "check the connection"
    var = provider.env_var(provider.secret_name)
    return f"check {var} / revsync connect {tool}"


def _mapping_reason(exc: MappingConfigError) -> str:
    """The validator's own sentence, without the schema dump around it."""
    inner = exc.__cause__ or exc.__context__
    if not isinstance(inner, ValidationError):
        return str(exc)
    head = str(exc).split(":", 1)[0]
    reasons = [str(e["msg"]).removeprefix("Value error, ") for e in inner.errors()]
    return f"{head}: {'; '.join(reasons)}"


def failure_line(exc: BaseException) -> str:
    """``<what failed>: <what to do>`` for any exception a sync run can end with."""
    if isinstance(exc, SyncFailed | UsageError):
        return str(exc)
    if getattr(exc, _ONE_LINE, False) and isinstance(exc, ConnectorError):
        return exc.message
    if isinstance(exc, UnknownTool):
        return str(exc)
    if isinstance(exc, MappingConfigError):
        return f"mapping problem: {_mapping_reason(exc)} (fix the mapping file, then re-run)"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return (
            f"mapping problem: {mark.name} line {mark.line + 1}: YAML syntax error, {exc.problem} "
            "(fix the mapping file, then re-run)"
        )
    if isinstance(exc, ConnectorError) and exc.tool is None:
        return exc.message
    if isinstance(exc, ConnectorError):
        tool = exc.tool or "a tool"
        text = exc.message.lower()
        # the manifests map exactly 401 to "refused the credentials" (a config error)
        if exc.status == 401 or "refused the credentials" in text or "unauthorized" in text:
            return f"{tool} rejected the credential (401): {_fix(tool)}"
        if exc.status == 403 or "scope" in text:
            return (
                f"{tool} refused the call for missing permissions (403): grant the scope the "
                f"message names, then re-run ({exc.message})"
            )
        if isinstance(exc, ConfigError) and "revsync connect" in exc.message:
            return f"{tool} is not connected: {exc.message}"  # the message names the fix
        if isinstance(exc, ConfigError) or exc.error_class is ErrorClass.FATAL:
            return f"{tool} configuration problem: {exc.message} ({_fix(tool)})"
        return f"{tool} kept failing after retries: {exc.message}; re-run later, it resumes"
    name = type(exc).__name__
    if name in {"ArgumentError", "NoSuchModuleError"} and "sqlalchemy" in type(exc).__module__:
        return (
            "REVSYNC_STATE_URL is not a database URL revsync can open "
            f"({exc}): use e.g. sqlite:///data/state.db or postgresql+psycopg://user@host/db"
        )
    if "OperationalError" in name or "sqlalchemy" in type(exc).__module__:
        return (
            f"the state store failed ({name}): check REVSYNC_STATE_URL and that the database "
            "is reachable, then re-run"
        )
    return f"failed unexpectedly ({name}: {exc}); see the logs (or --debug), then re-run"


def with_failure_line(exc: Exception, line: str) -> Exception:
    """The same kind of exception, carrying the one-liner as its message.

    Prefect writes ``<type>: <message>`` into the run's final state, so the message is what the
    admin sees in the run list; the original stays chained as ``__cause__`` for the logs.
    """
    if isinstance(exc, ConnectorError):
        replacement = type(exc)(
            line,
            tool=exc.tool,
            stream=exc.stream,
            status=exc.status,
            error_class=exc.error_class,
        )
        setattr(replacement, _ONE_LINE, True)
        return replacement
    return exc
