"""Declared automations (``ops/automations.yaml``) made real on the Prefect server.

The file is the source of truth: applying it replaces every automation of the same name, so a
change reviewed in the repo is what runs. Notifications go through one named notification block,
so where alerts land (a webhook, Slack, email) is configured once on the server, never in git.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

__all__ = ["AUTOMATIONS_FILE", "apply_automations", "ensure_webhook_block", "load_automations"]

logger = logging.getLogger(__name__)

AUTOMATIONS_FILE = Path(__file__).resolve().parent.parent / "ops" / "automations.yaml"


def load_automations(path: Path = AUTOMATIONS_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    if not data.get("automations"):
        raise ValueError(f"{path} declares no automations")
    return dict(data)


def ensure_webhook_block(name: str, url: str) -> UUID:
    """Create or replace a custom-webhook notification block posting subject and body as JSON."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name="revsync",
        url=url,
        method="POST",
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    )
    block_id = block.save(name, overwrite=True)
    assert isinstance(block_id, UUID)
    return block_id


def _notify_block_id(name: str) -> UUID:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for doc in client.read_block_documents():
            capabilities = doc.block_schema.capabilities if doc.block_schema else []
            if doc.name == name and "notify" in capabilities:
                return doc.id
    raise LookupError(
        f"no notification block named {name!r}: run `revsync automations apply --webhook-url "
        f"URL` or create one in the Prefect UI (Blocks) with that name"
    )


def apply_automations(
    path: Path = AUTOMATIONS_FILE, *, webhook_url: str | None = None
) -> list[UUID]:
    """Create the declared automations, replacing those with the same names; returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    data = load_automations(path)
    block_name = str(data.get("notify_block", "revsync-alerts"))
    block_id = (
        ensure_webhook_block(block_name, webhook_url)
        if webhook_url
        else _notify_block_id(block_name)
    )
    created: list[UUID] = []
    with get_client(sync_client=True) as client:
        for spec in data["automations"]:
            spec = dict(spec)
            spec["actions"] = [
                {**action, "block_document_id": str(block_id)}
                if action.get("type") == "send-notification"
                else action
                for action in spec.get("actions", [])
            ]
            automation = AutomationCore.model_validate(spec)
            for old in client.read_automations_by_name(automation.name):
                client.delete_automation(old.id)
            created.append(client.create_automation(automation))
            logger.info("automation %s applied", automation.name)
    return created
