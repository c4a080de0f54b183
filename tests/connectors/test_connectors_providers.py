"""Connector declarations: discovered from folders, validated, and the source of every
generated name (variables, flags, Secret blocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.providers import ProviderError, load_provider, provider_for, providers
from connectors.registry import CONNECTORS_DIR, capabilities, writer_class
from flows.credentials import secret_block_names


def test_every_connector_folder_declares_itself() -> None:
    folders = sorted(p.parent.name for p in CONNECTORS_DIR.glob("*/manifest.yaml"))
    assert sorted(providers()) == folders
    for tool in folders:
        assert writer_class(tool).tool == tool  # type: ignore[attr-defined]


def test_names_are_generated_from_the_connection_specification() -> None:
    zendesk = provider_for("zendesk")
    assert [f.env_var("zendesk") for f in zendesk.fields] == [
        "REVSYNC_ZENDESK_API_TOKEN",
        "REVSYNC_ZENDESK_EMAIL",
        "REVSYNC_ZENDESK_SUBDOMAIN",
    ]
    assert [f.flag for f in zendesk.option_fields] == ["--email", "--subdomain"]
    assert zendesk.url_options == ("subdomain",)
    assert secret_block_names("mailchimp") == {"api_key": "revsync-mailchimp-api-key"}


def test_capabilities_answer_for_the_flow() -> None:
    assert capabilities("hubspot", "person").merge == "merge_contacts"
    assert capabilities("zendesk", "person").survivor_lookup == "find_survivor"
    assert capabilities("mailchimp", "company").merge is None


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "connector.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_declaration_without_a_secret_or_for_another_folder_is_refused(tmp_path: Path) -> None:
    base = (
        "title: Acme\ncategory: crm\nbase_url: https://acme.test\n"
        "auth: {kind: bearer, token: token}\nwriter: {class: AcmeWriter, batch_max: 10}\n"
    )
    folder = _write(
        tmp_path / "acme",
        "tool: acme\n" + base + "connection_specification: {properties: {token: {}}}\n",
    )
    with pytest.raises(ProviderError, match="airbyte_secret"):
        load_provider(folder)
    other = _write(tmp_path / "other", "tool: acme\n" + base)
    with pytest.raises(ProviderError, match="folder's name 'other'"):
        load_provider(other)
