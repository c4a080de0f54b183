"""Run a tool's ``manifest.yaml`` in-process with the Airbyte CDK and yield plain records.

The CDK speaks Airbyte messages; the rest of revsync wants ``Record`` and ``Checkpoint``. State
goes to the ``YamlDeclarativeSource`` constructor (given only to ``read()`` it is silently
ignored and every run becomes a full refresh). When the CDK reports a failure, everything read
before it has already been yielded, then :class:`~connectors.errors.ReadFailed` is raised with a
message for the operator and with every configured secret scrubbed out.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest import mock

# The CDK marks some of its own classes experimental with a DeprecationWarning raised at import
# (see STACK-NOTES); silence exactly that one here so importing a connector never fails under
# ``-W error``.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="This class is experimental")
    from airbyte_cdk.models import (
        AirbyteMessage,
        AirbyteStateBlob,
        AirbyteStateMessage,
        AirbyteStateType,
        AirbyteStream,
        AirbyteStreamState,
        ConfiguredAirbyteCatalog,
        ConfiguredAirbyteStream,
        DestinationSyncMode,
        FailureType,
        Status,
        StreamDescriptor,
        SyncMode,
        Type,
    )
    from airbyte_cdk.sources.declarative import concurrent_declarative_source
    from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from connectors.connections import Connection
from connectors.errors import ErrorClass, ReadFailed, read_advice, scrub
from connectors.providers import provider_for
from connectors.registry import manifest_path

__all__ = ["Checkpoint", "Record", "build_source", "cdk_sleep", "check_stream", "read_stream"]

logger = logging.getLogger(__name__)
_cdk_logger = logging.getLogger("airbyte")

# Every source the CDK builds re-parses its own packaged component schema (a 0.2 s YAML load,
# most of a source's construction), and a sync builds one per stream read. The file cannot
# change in a running process and the CDK only reads the dict (to validate manifests), so it
# is parsed once.
concurrent_declarative_source.get_declarative_component_schema = functools.cache(
    concurrent_declarative_source.get_declarative_component_schema
)


def _release_root_logger() -> None:
    """Drop the handler the CDK puts on the root logger when it is imported.

    It writes every log record of the process (Prefect's too) to stdout as Airbyte protocol
    JSON, which is right for a connector process talking to the Airbyte platform and wrong for
    revsync, where the CDK is a library: our logs go where the application configured them.
    """
    from airbyte_cdk.logger import AirbyteLogFormatter

    for handler in list(logging.root.handlers):
        if isinstance(handler.formatter, AirbyteLogFormatter):
            logging.root.removeHandler(handler)


_release_root_logger()


@dataclass(frozen=True)
class Record:
    """One record as the tool returned it (nested, unmapped)."""

    stream: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """The CDK's per-stream state blob, as it came: store it, hand it back next run."""

    stream: str
    state: dict[str, Any]


@contextmanager
def cdk_sleep(sleep: Callable[[float], None]) -> Iterator[None]:
    """Replace the CDK's backoff sleeps (``backoff`` and ``rate_limiting``) for tests.

    The CDK sleeps through ``time.sleep`` looked up in two modules; we swap only those modules'
    ``time`` reference, so nothing else in the process stops sleeping.
    """
    import time as real_time

    import backoff._sync as backoff_sync
    from airbyte_cdk.sources.streams.http import rate_limiting

    fake_time = SimpleNamespace(
        **{name: getattr(real_time, name) for name in dir(real_time) if not name.startswith("__")}
    )
    fake_time.sleep = sleep
    with (
        mock.patch.object(backoff_sync, "time", fake_time),
        mock.patch.object(rate_limiting, "time", fake_time),
    ):
        yield


def build_source(
    conn: Connection,
    state: Mapping[str, Mapping[str, Any]] | None = None,
    config: Mapping[str, Any] | None = None,
) -> YamlDeclarativeSource:
    """The CDK source for ``conn.tool``; building it validates the manifest against the schema."""
    return YamlDeclarativeSource(
        path_to_yaml=str(manifest_path(conn.tool)),
        config=dict(config) if config is not None else conn.cdk_config(),
        state=_state_messages(state or {}),
    )


def check_stream(conn: Connection) -> tuple[bool, str]:
    """Run the manifest's own ``check:`` (one page of its check stream): ``(ok, why)``.

    The CDK logs each failed request with its body at ERROR; the returned message already says
    why, so those lines are kept out of the operator's terminal (and scrubbed regardless).
    """
    secrets = [value.get_secret_value() for value in conn.secrets.values()]
    source = build_source(conn)
    _release_root_logger()
    level = _cdk_logger.level
    _cdk_logger.setLevel(logging.CRITICAL)
    try:
        with _scrubbed_cdk_logs(secrets):
            status = source.check(_cdk_logger, conn.cdk_config())
    except Exception as exc:  # the CDK can raise anything; never let a secret escape in it
        return False, scrub(f"{type(exc).__name__}: {exc}", secrets)
    finally:
        _cdk_logger.setLevel(level)
    message = scrub(str(status.message or ""), secrets)
    # "Stream contacts is not available: <the manifest's error_message>"
    _, sep, reason = message.partition(" is not available: ")
    return status.status == Status.SUCCEEDED, (reason if sep else message)


def read_stream(
    conn: Connection,
    stream: str,
    state: dict[str, Any] | None,
    fields: Sequence[str] = (),
) -> Iterator[Record | Checkpoint]:
    """Read one stream, incrementally when it supports it, starting from ``state``.

    ``fields`` are the tool fields the caller maps; a manifest whose API returns only the
    fields asked for adds them to its request as ``config['mapped_fields']``.
    """
    config = {**conn.cdk_config(), "mapped_fields": list(fields)}
    secrets = [value.get_secret_value() for value in conn.secrets.values()]
    source = build_source(conn, {stream: state} if state else None, config)
    _release_root_logger()
    catalog = _catalog(source, config, stream, conn.tool)
    with _scrubbed_cdk_logs(secrets):
        yield from _run(source, config, catalog, conn, stream, state, secrets)


def _run(
    source: YamlDeclarativeSource,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    conn: Connection,
    stream: str,
    state: dict[str, Any] | None,
    secrets: list[str],
) -> Iterator[Record | Checkpoint]:
    errors: list[tuple[str, FailureType | None]] = []
    final: list[tuple[str, FailureType | None]] = []
    try:
        messages = source.read(
            _cdk_logger, config, catalog, _state_messages({stream: state} if state else {})
        )
        for message in messages:
            item = _translate(message, stream, errors)
            if item is not None:
                yield item
    except AirbyteTracedException as exc:
        # the CDK ends a failed sync with a summary exception; the stream's own TRACE says why
        final.append((exc.message or str(exc.internal_message or "read failed"), exc.failure_type))
    except Exception as exc:  # the CDK can raise anything; never let a secret escape in it
        final.append((f"{type(exc).__name__}: {exc}", FailureType.system_error))
    if errors or final:
        raise _read_failed(conn.tool, stream, errors or final, secrets)


_CDK_DUMPS = ("' request to '", "Exception while syncing stream", "Retries exhausted")
"""CDK error records that dump the whole request, body and headers, or a stream's traceback:
the failure they describe is raised again as one ``ReadFailed`` line, so they only go to this
module's DEBUG log (``--debug``), never to an operator's console."""


class _SecretFilter(logging.Filter):
    """Masks secrets in CDK log records (it logs response bodies, which may echo a token) and
    keeps the CDK's request dumps and tracebacks out of the console (see ``_CDK_DUMPS``)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = scrub(text, self._secrets)
        if record.levelno >= logging.ERROR and any(dump in masked for dump in _CDK_DUMPS):
            logger.debug(
                "cdk: %s", masked.split(" Request (body):", 1)[0], exc_info=record.exc_info
            )
            return False
        if masked != text:
            record.msg, record.args = masked, None
        return True


@contextmanager
def _scrubbed_cdk_logs(secrets: list[str]) -> Iterator[None]:
    """Attach the filter to every CDK logger that exists once the source is built."""
    scrubber = _SecretFilter(secrets)
    names = [_cdk_logger.name] + [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(("airbyte.", "airbyte_cdk"))
    ]
    loggers = [logging.getLogger(name) for name in names]
    for each in loggers:
        each.addFilter(scrubber)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(scrubber)


def _translate(
    message: AirbyteMessage, stream: str, errors: list[tuple[str, FailureType | None]]
) -> Record | Checkpoint | None:
    if message.type == Type.RECORD and message.record is not None:
        return Record(stream=message.record.stream, data=dict(message.record.data))
    if message.type == Type.STATE and message.state is not None:
        stream_state = message.state.stream
        if stream_state is None or stream_state.stream_descriptor.name != stream:
            return None
        blob = stream_state.stream_state
        return Checkpoint(stream=stream, state=_blob_to_dict(blob))
    if message.type == Type.TRACE and message.trace is not None and message.trace.error is not None:
        error = message.trace.error
        errors.append((error.message, error.failure_type))
        logger.debug("CDK reported an error on %s", stream)
    elif message.type == Type.LOG and message.log is not None:
        logger.debug("cdk: %s", message.log.message)
    return None


def _read_failed(
    tool: str, stream: str, errors: list[tuple[str, FailureType | None]], secrets: list[str]
) -> ReadFailed:
    config_error = any(kind == FailureType.config_error for _, kind in errors)
    seen: list[str] = []
    for text, _ in errors:
        if text and text not in seen:
            seen.append(text)
    detail = " | ".join(seen) or "the CDK reported a failure without a message"
    detail = scrub(detail, secrets)
    status = 404 if _NOT_FOUND.search(detail) else None
    error_class = ErrorClass.FATAL if config_error or status else ErrorClass.RETRY
    action = read_advice(status, error_class, provider_for(tool).env_var("base_url"))
    return ReadFailed(
        f"reading {tool} {stream} failed: {detail}. {action}",
        tool=tool,
        stream=stream,
        status=status,
        error_class=error_class,
    )


_NOT_FOUND = re.compile(r"(?:HTTP Status Code: |status code '|\()404\b")
"""How the CDK's failure texts name a 404 (the status is not kept apart from the text)."""


def _catalog(
    source: YamlDeclarativeSource, config: Mapping[str, Any], stream: str, tool: str
) -> ConfiguredAirbyteCatalog:
    discovered = {s.name: s for s in source.discover(_cdk_logger, config).streams}
    found: AirbyteStream | None = discovered.get(stream)
    if found is None:
        raise ReadFailed(
            f"{tool} has no stream {stream!r}; streams: {sorted(discovered)}",
            tool=tool,
            stream=stream,
        )
    incremental = SyncMode.incremental in (found.supported_sync_modes or [])
    return ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=found,
                sync_mode=SyncMode.incremental if incremental else SyncMode.full_refresh,
                destination_sync_mode=DestinationSyncMode.append,
                cursor_field=found.default_cursor_field if incremental else None,
            )
        ]
    )


def _state_messages(states: Mapping[str, Mapping[str, Any] | None]) -> list[AirbyteStateMessage]:
    return [
        AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name=name),
                stream_state=AirbyteStateBlob(**dict(blob)),
            ),
        )
        for name, blob in states.items()
        if blob
    ]


def _blob_to_dict(blob: AirbyteStateBlob | None) -> dict[str, Any]:
    if blob is None:
        return {}
    return {key: value for key, value in vars(blob).items() if not key.startswith("_")}
