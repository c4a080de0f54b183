"""Mailchimp write side: audience members.

Members that carry an explicit ``status`` go through batch subscribe (``POST /lists/{id}``,
500 per call, ``update_existing: true``); its 200 lists ``new_members``, ``updated_members`` and
``errors[]``, mapped back by email. New members (no record id) go through batch subscribe with
``update_existing: false`` and their ``status_if_new``: the ones that turn out to exist already
(``ERROR_CONTACT_EXISTS``, e.g. created by a run that crashed before recording them) are then
upserted by ``PUT``, which leaves their subscription status alone. Other updates go through
``PUT /lists/{id}/members/{md5(lower(email))}`` with ``status_if_new``: batch subscribe with
``update_existing`` would overwrite an existing member's status, i.e. re-subscribe people who
unsubscribed. A linked member whose email changes is patched at its old hash. A new member
without a known consent joins ``transactional`` (no marketing email), never ``subscribed``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx

from connectors.calls import send_for_json, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub, vendor_message
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["MailchimpWriter", "subscriber_hash"]

logger = logging.getLogger(__name__)

_ENTITIES = frozenset({"person", "member", "members"})
_HINTS = {
    401: "check the API key (REVSYNC_MAILCHIMP_API_KEY)",
    403: "the API key's user cannot write this audience (or Mailchimp is throttling: retry later)",
    404: "check the audience id (REVSYNC_MAILCHIMP_LIST_ID)",
}


_EXISTS = "ERROR_CONTACT_EXISTS"


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lowercased email."""
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


class MailchimpWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for one Mailchimp audience."""

    tool = "mailchimp"

    def __init__(
        self,
        conn: Connection,
        client: httpx.Client | None = None,
        *,
        batch_size: int | None = None,
        status_if_new: str = "transactional",
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)
        self._list_id = conn.option("list_id")
        self._status_if_new = status_if_new

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        if entity not in _ENTITIES:
            raise ConfigError(f"the Mailchimp writer does not write {entity!r}", tool=self.tool)
        outcomes: dict[int, WriteOutcome] = {}
        batchable: list[tuple[int, WriteItem]] = []
        creates: list[tuple[int, WriteItem]] = []
        for index, item in enumerate(items):
            email = _email(item)
            if not email:
                outcomes[index] = WriteOutcome(item.key, ok=False, error="no email address")
            elif item.record_id and item.record_id != subscriber_hash(email):
                outcomes[index] = self._single(item, email, at_hash=item.record_id, method="PATCH")
            elif "status" in item.properties:
                batchable.append((index, item))
            elif item.record_id is None:
                creates.append((index, item))
            else:
                outcomes[index] = self._single(item, email, at_hash=None, method="PUT")
        for start in range(0, len(batchable), self._batch_size):
            outcomes.update(self._batch(batchable[start : start + self._batch_size]))
        for start in range(0, len(creates), self._batch_size):
            outcomes.update(self._create(creates[start : start + self._batch_size]))
        return [outcomes[i] for i in range(len(items))]

    def put_member(self, email: str, body: dict[str, Any]) -> dict[str, Any]:
        """Add or update one member by email hash; raises ``WriteFailed`` on any refusal."""
        payload = {"email_address": email, "status_if_new": self._status_if_new, **body}
        path = f"/lists/{self._list_id}/members/{subscriber_hash(email)}"
        return send_for_json(
            self._client, "PUT", path, payload, tool=self.tool, hints=_HINTS, secrets=self._secrets
        )

    def _single(
        self, item: WriteItem, email: str, *, at_hash: str | None, method: str
    ) -> WriteOutcome:
        body = {**item.properties, "email_address": email}
        if method == "PUT":
            body.setdefault("status_if_new", self._status_if_new)
        path = f"/lists/{self._list_id}/members/{at_hash or subscriber_hash(email)}"
        response = send_json(self._client, method, path, body, tool=self.tool)
        if response.status_code == 200:
            data = response.json()
            return WriteOutcome(item.key, ok=True, record_id=data.get("id"), data=data)
        if (
            classify_response(response, self._provider.errors) is ErrorClass.SKIP
            and response.status_code != 404
        ):
            return WriteOutcome(
                item.key,
                ok=False,
                record_id=item.record_id,
                error=scrub(vendor_message(response, rules=self._provider.errors), self._secrets),
            )
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)

    def _create(self, chunk: list[tuple[int, WriteItem]]) -> dict[int, WriteOutcome]:
        """Batch-subscribe new members; upsert by PUT the ones that exist already."""
        members = []
        for _, item in chunk:
            member = {k: v for k, v in item.properties.items() if k != "status_if_new"}
            member["status"] = item.properties.get("status_if_new", self._status_if_new)
            members.append({**member, "email_address": _email(item)})
        outcomes = self._batch(chunk, members=members, update_existing=False)
        for index, item in chunk:
            outcome = outcomes[index]
            if not outcome.ok and (outcome.error or "").startswith(_EXISTS):
                outcomes[index] = self._single(item, _email(item), at_hash=None, method="PUT")
        return outcomes

    def _batch(
        self,
        chunk: list[tuple[int, WriteItem]],
        *,
        members: list[dict[str, Any]] | None = None,
        update_existing: bool = True,
    ) -> dict[int, WriteOutcome]:
        if members is None:
            # Batch members take no status_if_new (a create that knows the consent carries
            # its status).
            members = [
                {
                    **{k: v for k, v in item.properties.items() if k != "status_if_new"},
                    "email_address": _email(item),
                }
                for _, item in chunk
            ]
        body = {"members": members, "update_existing": update_existing}
        response = send_json(self._client, "POST", f"/lists/{self._list_id}", body, tool=self.tool)
        if response.status_code != 200:
            raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)
        return _parse_batch(chunk, response.json())


def _email(item: WriteItem) -> str:
    value = item.properties.get("email_address") or item.key
    return str(value).strip() if value else ""


def _parse_batch(
    chunk: list[tuple[int, WriteItem]], body: dict[str, Any]
) -> dict[int, WriteOutcome]:
    """Map batch-subscribe's ``new_members``/``updated_members``/``errors`` back by email."""
    by_email = {_email(item).lower(): index for index, item in chunk}
    items = dict(chunk)
    outcomes: dict[int, WriteOutcome] = {}
    for field, created in (("new_members", True), ("updated_members", False)):
        for member in body.get(field) or []:
            index = by_email.get(str(member.get("email_address", "")).lower())
            if index is None:
                continue
            outcomes[index] = WriteOutcome(
                items[index].key, ok=True, record_id=member.get("id"), created=created, data=member
            )
    for error in body.get("errors") or []:
        index = by_email.get(str(error.get("email_address", "")).lower())
        if index is None:
            logger.warning("Mailchimp batch error matches no input: %s", error.get("error_code"))
            continue
        code = error.get("error_code")
        message = str(error.get("error", "rejected"))
        outcomes[index] = WriteOutcome(
            items[index].key,
            ok=False,
            record_id=items[index].record_id,
            error=f"{code}: {message}" if code else message,
        )
    for index, item in chunk:
        outcomes.setdefault(
            index,
            WriteOutcome(
                item.key,
                ok=False,
                record_id=item.record_id,
                error="Mailchimp returned no result for this member",
            ),
        )
    return outcomes
