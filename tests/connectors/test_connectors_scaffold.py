"""``scripts/new-connector``: what it generates loads, builds, imports and reads before anyone
fills a TODO, and what it refuses it refuses with exit 2 and one line.

The registry only discovers connectors under the package's own folder, so everything here is
generated into ``tmp_path`` and validated file by file, never written into ``connectors/``.
"""

from __future__ import annotations

import base64
import importlib.util
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import requests_mock
import yaml
from airbyte_cdk.models import (
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from pydantic import SecretStr
from test_connectors_contract import README_SECTIONS

from connectors import writer as writer_module
from connectors.auth import AUTH_KINDS
from connectors.connections import Connection
from connectors.errors import ConfigError
from connectors.http import build_client
from connectors.providers import CONNECTORS_DIR, Provider, load_provider
from connectors.scaffold import (
    REPO_ROOT,
    ScaffoldError,
    auth_kinds,
    main,
    planned_files,
    scaffold,
    templated_auth_kinds,
    writer_class_name,
)
from connectors.writer import WriteItem, Writer
from mappings.spec import parse_mapping_file

TOOL = "acme_crm"
BASE_URL = "https://acme.example.invalid"
SCRIPT = REPO_ROOT / "scripts" / "new-connector"
_LOG = logging.getLogger("test")


@pytest.fixture(params=auth_kinds())
def generated(request: pytest.FixtureRequest, tmp_path: Path) -> Provider:
    """A connector generated with one registered auth kind, parsed by the Provider model."""
    scaffold(TOOL, tmp_path, title="Acme CRM", auth=request.param)
    return load_provider(tmp_path / "connectors" / TOOL)


def _connection(provider: Provider, *, every_secret: bool = True) -> Connection:
    secrets = provider.secret_fields if every_secret else provider.secret_fields[:1]
    return Connection(
        tool=provider.tool,
        base_url=BASE_URL,
        secrets={f.name: SecretStr(f"secret-{f.name}-0000") for f in secrets},
        options={f.name: f"opt-{f.name}" for f in provider.option_fields},
    )


def _source(provider: Provider, conn: Connection) -> YamlDeclarativeSource:
    return YamlDeclarativeSource(
        path_to_yaml=str(provider.manifest_path), config=conn.cdk_config(), state=[]
    )


def _credentials_seen(request_url: str, headers: Any, conn: Connection) -> bool:
    """A connection secret (or the OAuth access token it was exchanged for) on the wire."""
    wanted = [s.get_secret_value() for s in conn.secrets.values()] + ["oauth-access-0000"]
    seen = [request_url, *(str(v) for v in headers.values())]
    auth = str(headers.get("Authorization") or "")
    if auth.startswith("Basic "):
        seen.append(base64.b64decode(auth.removeprefix("Basic ")).decode())
    return any(secret in text for secret in wanted for text in seen)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    return lines[0]


def test_the_auth_choices_are_the_registered_kinds() -> None:
    assert auth_kinds() == sorted(AUTH_KINDS)
    assert templated_auth_kinds() == auth_kinds(), "an auth kind has no scaffold template"


def test_the_script_generates_every_file_with_todo_markers(tmp_path: Path) -> None:
    assert os.access(SCRIPT, os.X_OK)
    done = _run(TOOL, "--root", "out", "--title", "Acme CRM", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "out"  # a relative --root is the caller's, not the repository's
    files = planned_files(TOOL, root)
    assert [f.relative_to(root).as_posix() for f in files] == [
        f"connectors/{TOOL}/connector.yaml",
        f"connectors/{TOOL}/manifest.yaml",
        f"connectors/{TOOL}/writer.py",
        f"connectors/{TOOL}/README.md",
        f"connectors/{TOOL}/__init__.py",
        f"mappings/{TOOL}.yaml",
    ]
    for path in files:
        assert path.is_file(), path
        assert f"created {path.relative_to(tmp_path)}\n" in done.stdout
        if path.name != "__init__.py":
            assert "TODO" in path.read_text(encoding="utf-8"), f"{path} has no TODO marker"
    assert (root / "connectors" / TOOL / "__init__.py").read_text() == ""
    assert not (CONNECTORS_DIR / TOOL).exists()


def test_connector_yaml_validates_with_the_provider_model(generated: Provider) -> None:
    assert generated.tool == TOOL
    assert generated.title == "Acme CRM"
    assert generated.writer_class == writer_class_name(TOOL) == "AcmeCrmWriter"
    assert generated.auth.kind in AUTH_KINDS
    assert generated.batch_max > 0
    assert generated.secret_fields
    assert generated.capabilities("person").create == "upsert"
    assert generated.budget is not None  # every connector declares one (ops budgets test)
    # no sandbox values yet: the live contract suite waits for the sandbox imitation
    assert generated.sandbox == {}
    assert generated.manifest_path == generated.folder / "manifest.yaml"


def test_the_manifest_builds_with_an_incremental_stream_for_the_mapping(
    generated: Provider,
) -> None:
    text = generated.manifest_path.read_text(encoding="utf-8")
    for field in generated.secret_fields:
        assert f"config['{field.name}']" in text, f"the manifest never uses {field.name}"
    mapped = {m.stream for m in parse_mapping_file(TOOL, _mapping_yaml(generated)).values()}
    # as the static contract suite builds it (first secret only) and with every secret
    for conn in (_connection(generated, every_secret=False), _connection(generated)):
        source = _source(generated, conn)
        streams = source.discover(_LOG, conn.cdk_config()).streams
        names = {s.name for s in streams}
        assert mapped <= names
        assert yaml.safe_load(text)["check"]["stream_names"][0] in names
        for stream in streams:
            assert stream.source_defined_primary_key == [["id"]]
            assert stream.default_cursor_field == ["updated_at"]
            assert SyncMode.incremental in (stream.supported_sync_modes or [])


def test_the_manifest_checks_pages_and_checkpoints_with_the_declared_auth(
    generated: Provider,
) -> None:
    conn = _connection(generated)
    pages = {
        None: {"data": [{"id": "1", "updated_at": "2024-01-01T00:00:00Z"}], "next_cursor": "p2"},
        "p2": {"data": [{"id": "2", "updated_at": "2024-01-02T00:00:00Z"}], "next_cursor": None},
    }

    def page(request: Any, context: Any) -> dict[str, Any]:
        cursor = request.qs.get("cursor", [None])[0]
        return pages[cursor]

    with requests_mock.Mocker() as mocked:
        mocked.get(f"{BASE_URL}/TODO/contacts", json=page)
        mocked.post(f"{BASE_URL}/oauth/token", json={"access_token": "oauth-access-0000"})
        status = _source(generated, conn).check(_LOG, conn.cdk_config())
        assert status.status.value == "SUCCEEDED", status.message
        source = _source(generated, conn)
        (found,) = source.discover(_LOG, conn.cdk_config()).streams
        messages = list(source.read(_LOG, conn.cdk_config(), _catalog(found), []))
        reads = [r for r in mocked.request_history if r.method == "GET"]
    records = [m.record.data["id"] for m in messages if m.type == Type.RECORD and m.record]
    states = [m.state for m in messages if m.type == Type.STATE and m.state]
    assert records == ["1", "2"], "the second page was not read"
    assert states, "no checkpoint"
    last = states[-1].stream
    assert last is not None
    assert vars(last.stream_state)["updated_at"].startswith("2024-01-02")
    assert reads
    assert all(_credentials_seen(r.url, r.headers, conn) for r in reads)


def _catalog(stream: AirbyteStream) -> ConfiguredAirbyteCatalog:
    return ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=stream,
                sync_mode=SyncMode.incremental,
                destination_sync_mode=DestinationSyncMode.append,
                cursor_field=stream.default_cursor_field,
            )
        ]
    )


def _import_writer(provider: Provider) -> ModuleType:
    path = provider.folder / "writer.py"
    spec = importlib.util.spec_from_file_location(f"scaffolded_{provider.tool}_writer", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_writer_imports_meets_the_protocol_and_sends_the_declared_auth(
    generated: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _import_writer(generated)
    cls = getattr(module, generated.writer_class)
    assert cls.tool == TOOL
    assert generated.writer_class in module.__all__
    # HttpWriter looks its tool up in the real registry, which cannot see tmp_path
    monkeypatch.setattr(writer_module, "provider_for", lambda tool: generated)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "oauth-access-0000"})
        return httpx.Response(200, json={})

    conn = _connection(generated)
    client = build_client(conn, generated, transport=httpx.MockTransport(answer))
    writer = cls(conn, client)
    try:
        assert isinstance(writer, Writer)
        with pytest.raises(NotImplementedError, match="TODO"):
            writer.upsert("person", [WriteItem(key="a@example.com", record_id=None)])
        with pytest.raises(ConfigError, match="does not write"):
            writer.upsert("company", [])
        assert client.get("probe").status_code == 200
    finally:
        writer.close()
        client.close()
    (probe,) = [r for r in sent if r.url.path.endswith("/probe")]
    assert _credentials_seen(str(probe.url), probe.headers, conn)


def test_the_generated_writer_passes_the_project_lint(tmp_path: Path) -> None:
    scaffold(TOOL, tmp_path)
    path = tmp_path / "connectors" / TOOL / "writer.py"
    config = str(REPO_ROOT / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--config", config, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def _mapping_yaml(provider: Provider) -> Any:
    path = provider.folder.parent.parent / "mappings" / f"{provider.tool}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_mapping_stub_loads(generated: Provider) -> None:
    sections = parse_mapping_file(TOOL, _mapping_yaml(generated))
    assert list(sections) == ["person"]
    person = sections["person"]
    assert person.stream == "contacts"
    assert person.natural_key == "email"
    assert {f.unified for f in person.fields} == {"email", "first_name", "last_name"}


def test_the_readme_has_the_contract_sections(generated: Provider) -> None:
    text = (generated.folder / "README.md").read_text(encoding="utf-8")
    assert [s for s in README_SECTIONS if s not in text] == []
    assert "https://" in text.split("## References", 1)[1]
    assert f"REVSYNC_{TOOL.upper()}_" in text.split("## Auth", 1)[1]


@pytest.mark.parametrize(
    "name", ["Acme", "1acme", "acme-crm", "acme crm", "_acme", "", "class", "acmé", "acme/x"]
)
def test_a_name_that_is_not_a_lowercase_identifier_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name, "--root", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert "lowercase identifier" in _one_line(out.err)
    assert out.out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_script_refuses_a_bad_name_with_exit_2(tmp_path: Path) -> None:
    done = _run("Acme-CRM", "--root", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert re.fullmatch(r"new-connector: tool name 'Acme-CRM' must be .+", _one_line(done.stderr))
    assert list(tmp_path.iterdir()) == []


def test_the_script_refuses_an_existing_folder_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "connectors" / TOOL
    folder.mkdir(parents=True)
    done = _run(TOOL, "--root", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert _one_line(done.stderr) == (
        f"new-connector: {folder} already exists; pick another name or remove it"
    )
    assert done.stdout == ""
    assert list(folder.iterdir()) == []
    assert not (tmp_path / "mappings").exists()


def test_an_existing_mapping_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "mappings" / f"{TOOL}.yaml"
    mapping.parent.mkdir()
    mapping.write_text("person: {}\n")
    assert main([TOOL, "--root", str(tmp_path)]) == 2
    assert "already exists" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "connectors").exists()
    assert mapping.read_text() == "person: {}\n"


def test_an_unregistered_auth_kind_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([TOOL, "--root", str(tmp_path), "--auth", "digest"])
    assert exited.value.code == 2
    assert "invalid choice: 'digest'" in _one_line(capsys.readouterr().err)
    with pytest.raises(ScaffoldError, match="unknown auth kind 'digest'"):
        scaffold(TOOL, tmp_path, auth="digest")
    assert list(tmp_path.iterdir()) == []


def test_a_title_that_would_break_the_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="title"):
        scaffold(TOOL, tmp_path, title='Acme "CRM"')
    assert list(tmp_path.iterdir()) == []
