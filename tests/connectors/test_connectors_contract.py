"""One contract test over every connector folder (Singer SDK style)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.providers import providers
from connectors.registry import CONNECTORS_DIR, manifest_path, writer_for
from connectors.runner import build_source
from connectors.writer import Writer
from mappings.spec import MAPPINGS_DIR, load_mappings

FOLDERS = sorted(p.parent.name for p in CONNECTORS_DIR.glob("*/manifest.yaml"))
PROVIDERS = providers()
README_SECTIONS = (
    "## Auth",
    "## Rate limits",
    "## Pagination",
    "## Incremental",
    "## Batch",
    "## Quirks",
    "## References",
)


def _conn(tool: str) -> Connection:
    provider = PROVIDERS[tool]
    return Connection(
        tool=tool,
        base_url="https://example.invalid",
        secrets={f.name: SecretStr("secret-value") for f in provider.secret_fields},
        options={f.name: "opt" for f in provider.option_fields},
    )


def test_every_provider_has_a_folder_and_every_folder_a_provider() -> None:
    assert sorted(PROVIDERS) == FOLDERS


@pytest.mark.parametrize("tool", FOLDERS)
def test_manifest_validates_and_streams_have_key_and_cursor(tool: str) -> None:
    conn = _conn(tool)
    source = build_source(conn)  # instantiating validates against the CDK schema
    streams = source.discover(logging.getLogger("test"), conn.cdk_config()).streams
    names = {s.name for s in streams}
    archives: set[str] = set()  # read in full each run, by design: a list of what is gone
    if (MAPPINGS_DIR / f"{tool}.yaml").exists():
        sections = [k for m in load_mappings(tool).values() for k in m.all_types()]
        archives = {m.gone_stream for m in sections if m.gone_stream}
        mapped = {m.stream for m in sections} | archives
        assert mapped <= names, f"{tool}: mapped streams {sorted(mapped - names)} not in manifest"
    for stream in streams:
        assert stream.source_defined_primary_key, f"{tool}.{stream.name} has no primary key"
        if stream.name in archives:
            continue
        assert stream.default_cursor_field, f"{tool}.{stream.name} has no cursor"
        assert "incremental" in [mode.value for mode in stream.supported_sync_modes or []]


@pytest.mark.parametrize("tool", FOLDERS)
def test_writer_implements_the_protocol(tool: str) -> None:
    writer = writer_for(_conn(tool))
    try:
        assert isinstance(writer, Writer)
        assert writer.tool == tool
    finally:
        writer.close()


@pytest.mark.parametrize("tool", FOLDERS)
def test_readme_has_its_sections(tool: str) -> None:
    text = (CONNECTORS_DIR / tool / "README.md").read_text()
    missing = [s for s in README_SECTIONS if s not in text]
    assert not missing, f"{tool}/README.md lacks {missing}"
    assert "https://" in text.split("## References", 1)[1]


def test_manifest_path_points_into_the_package() -> None:
    assert manifest_path("hubspot") == Path(CONNECTORS_DIR, "hubspot", "manifest.yaml")
    with pytest.raises(KeyError):
        manifest_path("nope")
