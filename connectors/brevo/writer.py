"""Brevo write side (API v3): contacts and CRM companies.

Contacts. A linked contact is updated by id (``PUT /contacts/{id}?identifierType=contact_id``,
204). Unlinked ones are upserted by email: ``POST /contacts`` with ``updateEnabled: true``
answers 201 ``{id}`` for a new contact and 204 (no body) for an existing one, whose id is then
read back by its EXT_ID (the unified id the create just wrote), so a create replayed after a
crash updates instead of duplicating. From ``IMPORT_MIN`` unlinked contacts joining the same
lists on, they go in one ``POST /contacts/import`` (``jsonBody``, ``updateExistingContacts``,
up to ``batch_max`` rows): a background process, polled at ``GET /processes/{id}`` until
``completed``. The import answers nothing per row and skips silently what it cannot take, so the
ids come from ``GET /contacts?createdSince=<newest contact before the import>``; a row not found
there (an existing contact, or one the import skipped) goes through ``POST /contacts`` alone,
which either upserts it or says why Brevo refuses it. An import refused, failed or still running
after the poll budget falls back to the single calls the same way.

Below ``IMPORT_MIN`` the single calls win: each costs one call of the contacts budget (10 a
second), finishes at once and names its own error, where an import costs a probe, the import,
a few polls and a read, and its process can wait in Brevo's queue for minutes.

A payload's ``company_ref`` (Brevo's company id) is taken out and the contact linked to that
company once written, one ``PATCH /companies/link-unlink/{id}`` per company. Contacts do not
list their companies, so the plan compares the company with the one revsync last linked: a
contact that existed before revsync is linked by its first update, and an update that only
moves the company is that link call alone. The old company's link is left (a contact may
belong to several companies in Brevo).

Companies have no upsert: a linked company is PATCHed by id; an unlinked one is looked up by
domain (``GET /companies?filters={"attributes.domain": …}``), PATCHed if found, else created
with ``POST /companies`` (200 ``{id}``; the name travels at the top, not in ``attributes``).

Errors are ``{"code", "message"}`` (``errorModel``): a refusal of one record is an ``ok=False``
outcome with Brevo's code and message; a linked id answered 404 is ``gone``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors import retry
from connectors.calls import json_or_none, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import ConfigError, ErrorClass, classify_response, scrub
from connectors.values import text_or_none
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["COMPANY_REF", "IMPORT_MIN", "BrevoWriter", "ImportPolling", "error_text"]

logger = logging.getLogger(__name__)

COMPANY_REF = "company_ref"
"""The payload key of the contact's company (Brevo's company id), written only."""

IMPORT_MIN = 50
"""From this many unlinked contacts joining the same lists on, one import replaces the calls."""

_PAGE = 1000  # GET /contacts: limit at most 1000
_HINTS = {
    401: "Brevo refused the API key: check REVSYNC_BREVO_API_KEY",
    403: "Brevo refused access: the account may not make this call (its plan, or the key)",
}
_PENDING = frozenset({"queued", "in_process"})


@dataclass(frozen=True)
class ImportPolling:
    """How long to wait for an import process: first wait, doubling to ``max_wait``, at
    most ``timeout`` seconds in all before falling back to single calls."""

    first_wait: float = 1.0
    max_wait: float = 15.0
    timeout: float = 300.0


class _Refused(Exception):
    """Brevo refused this record (a 4xx about it): an ``ok=False`` outcome."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def error_text(body: Any) -> str:
    """``"code: message"`` of a Brevo ``errorModel`` body."""
    if isinstance(body, dict):
        parts = [str(body[k]).strip() for k in ("code", "message") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return "rejected"


class BrevoWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Brevo contacts and CRM companies."""

    tool = "brevo"

    def __init__(
        self,
        conn: Connection,
        client: httpx.Client | None = None,
        *,
        batch_size: int | None = None,
        import_min: int = IMPORT_MIN,
        polling: ImportPolling | None = None,
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)
        self._import_min = max(2, import_min)
        self._polling = polling or ImportPolling()

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """One outcome per item, in input order."""
        if entity == "person":
            return self._contacts(items)
        if entity == "company":
            return [self._company(item) for item in items]
        raise ConfigError(f"the Brevo writer does not write {entity!r}", tool=self.tool)

    # -- contacts --------------------------------------------------------------------------

    def _contacts(self, items: list[WriteItem]) -> list[WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        bodies: dict[int, dict[str, Any]] = {}
        companies: dict[int, str] = {}
        by_lists: dict[tuple[int, ...], list[int]] = {}
        for index, item in enumerate(items):
            body = dict(item.properties)
            company = text_or_none(body.pop(COMPANY_REF, None))
            if company:
                companies[index] = company
            bodies[index] = body
            if item.record_id:
                outcomes[index] = self._update_contact(item, body)
                continue
            email = _email(item, body)
            if not email:
                outcomes[index] = WriteOutcome(item.key, ok=False, error="no email address")
                continue
            body["email"] = email
            lists = tuple(i for i in body.get("listIds") or [] if isinstance(i, int))
            if body.get("emailBlacklisted") is True:
                lists = ()  # an import row carries no blacklist flag: sent on its own
            by_lists.setdefault(lists, []).append(index)
        for lists, indexes in by_lists.items():
            for start in range(0, len(indexes), self._batch_size):
                chunk = indexes[start : start + self._batch_size]
                if lists and len(chunk) >= self._import_min:  # a short tail goes one by one
                    outcomes.update(self._import(lists, [(i, items[i], bodies[i]) for i in chunk]))
            for index in indexes:
                if index not in outcomes:
                    outcomes[index] = self._upsert_contact(items[index], bodies[index])
        self._link(items, outcomes, companies)
        return [outcomes[i] for i in range(len(items))]

    def _update_contact(self, item: WriteItem, body: dict[str, Any]) -> WriteOutcome:
        update = {k: v for k, v in body.items() if k not in {"email", "updateEnabled"}}
        if not update or update == {"attributes": {}}:
            # Only its company changed: the link call after the writes is the whole update.
            return WriteOutcome(item.key, ok=True, record_id=item.record_id)
        path = f"/contacts/{item.record_id}"
        try:
            self._send("contact", "PUT", path, update, params={"identifierType": "contact_id"})
        except _Refused as exc:
            gone = exc.status == 404
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone
            )
        return WriteOutcome(item.key, ok=True, record_id=item.record_id)

    def _upsert_contact(self, item: WriteItem, body: dict[str, Any]) -> WriteOutcome:
        """``POST /contacts`` with ``updateEnabled``: 201 with the new id, or 204 for an
        existing contact, whose id is read back."""
        try:
            answer, status = self._send(
                "contact", "POST", "/contacts", {**body, "updateEnabled": True}
            )
            if status == 201 and answer.get("id") is not None:
                return WriteOutcome(item.key, ok=True, record_id=str(answer["id"]), created=True)
            found = self._contact_id(body)
        except _Refused as exc:
            return WriteOutcome(item.key, ok=False, error=str(exc))
        if found is None:
            return WriteOutcome(
                item.key, ok=False, error="Brevo updated the contact but does not find it by id"
            )
        return WriteOutcome(item.key, ok=True, record_id=found)

    def _contact_id(self, body: Mapping[str, Any]) -> str | None:
        """The id of the contact a body was upserted into: by its EXT_ID when it carries one
        (no address in the URL), else by email."""
        attrs = body.get("attributes") or {}
        ext = text_or_none(attrs.get("EXT_ID") if isinstance(attrs, dict) else None)
        ref, kind = (ext, "ext_id") if ext else (str(body["email"]), "email_id")
        try:
            answer, _ = self._send(
                "contact", "GET", f"/contacts/{ref}", None, {"identifierType": kind}
            )
        except _Refused as exc:
            if exc.status == 404:
                return None
            raise
        return str(answer["id"]) if answer.get("id") is not None else None

    # -- imports ---------------------------------------------------------------------------

    def _import(
        self, lists: tuple[int, ...], chunk: list[tuple[int, WriteItem, dict[str, Any]]]
    ) -> dict[int, WriteOutcome]:
        """Import ``chunk`` in one process; the outcomes of the rows it created (the others
        are left to the single calls, as every row is when a call of the import is refused)."""
        try:
            return self._run_import(lists, chunk)
        except _Refused as exc:
            logger.warning("brevo import of %d contacts failed (%s): one by one", len(chunk), exc)
            return {}

    def _run_import(
        self, lists: tuple[int, ...], chunk: list[tuple[int, WriteItem, dict[str, Any]]]
    ) -> dict[int, WriteOutcome]:
        newest = self._newest_created()
        rows = [
            {"email": body["email"], "attributes": dict(body.get("attributes") or {})}
            for _, _, body in chunk
        ]
        request = {
            "jsonBody": rows,
            "listIds": list(lists),
            "updateExistingContacts": True,
            "emptyContactsAttributes": False,
            "disableNotification": True,
        }
        answer, _ = self._send("import", "POST", "/contacts/import", request)
        process = answer.get("processId")
        if process is None or not self._await(int(process)):
            return {}
        created = self._created_since(newest)
        outcomes: dict[int, WriteOutcome] = {}
        for index, item, body in chunk:
            found = created.get(str(body["email"]).strip().lower())
            if found is not None:
                outcomes[index] = WriteOutcome(item.key, ok=True, record_id=found, created=True)
        logger.info(
            "brevo import %s created %d of %d contacts; the rest one by one",
            process,
            len(outcomes),
            len(rows),
        )
        return outcomes

    def _await(self, process: int) -> bool:
        """Poll the process until it completes; False when it failed or outlived the budget."""
        wait, waited = self._polling.first_wait, 0.0
        while True:
            answer, _ = self._send("import", "GET", f"/processes/{process}", None)
            status = str(answer.get("status") or "")
            if status == "completed":
                return True
            if status not in _PENDING:
                logger.warning("brevo import process %s ended %r: one by one", process, status)
                return False
            if waited >= self._polling.timeout:
                logger.warning(
                    "brevo import process %s still %s after %.0fs: one by one (upserts)",
                    process,
                    status,
                    waited,
                )
                return False
            retry.sleeper(wait)
            waited += wait
            wait = min(wait * 2, self._polling.max_wait)

    def _newest_created(self) -> str | None:
        """``createdAt`` of the newest contact: what an import creates comes after it."""
        params = {"limit": "1", "offset": "0", "sort": "desc"}
        answer, _ = self._send("contact", "GET", "/contacts", None, params)
        contacts = answer.get("contacts") or []
        return str(contacts[0]["createdAt"]) if contacts else None

    def _created_since(self, newest: str | None) -> dict[str, str]:
        """Email -> id of every contact created after ``newest`` (all when None)."""
        found: dict[str, str] = {}
        offset = 0
        while True:
            params = {"limit": str(_PAGE), "offset": str(offset), "sort": "asc"}
            if newest:
                params["createdSince"] = newest
            answer, _ = self._send("contact", "GET", "/contacts", None, params)
            page = answer.get("contacts") or []
            for contact in page:
                if contact.get("email") and contact.get("id") is not None:
                    found[str(contact["email"]).strip().lower()] = str(contact["id"])
            if len(page) < _PAGE:
                return found
            offset += len(page)

    # -- company links ---------------------------------------------------------------------

    def _link(
        self, items: list[WriteItem], outcomes: dict[int, WriteOutcome], companies: dict[int, str]
    ) -> None:
        """Link written contacts to their companies, one call per company; a failed link
        turns those contacts' outcomes into refusals (the next run writes them again)."""
        by_company: dict[str, list[int]] = {}
        for index, company in companies.items():
            outcome = outcomes[index]
            if outcome.ok and outcome.record_id and outcome.record_id.isdigit():
                by_company.setdefault(company, []).append(index)
        for company, indexes in by_company.items():
            ids = [int(outcomes[i].record_id or 0) for i in indexes]
            try:
                path = f"/companies/link-unlink/{company}"
                self._send("company link", "PATCH", path, {"linkContactIds": ids})
            except _Refused as exc:
                for index in indexes:
                    done = outcomes[index]
                    outcomes[index] = WriteOutcome(
                        items[index].key,
                        ok=False,
                        record_id=done.record_id,
                        created=done.created,
                        error=f"contact written, but not linked to company {company}: {exc}",
                    )

    # -- companies -------------------------------------------------------------------------

    def _company(self, item: WriteItem) -> WriteOutcome:
        attributes = dict(item.properties.get("attributes") or {})
        name = text_or_none(attributes.pop("name", None))
        body: dict[str, Any] = {"attributes": attributes}
        if name:
            body["name"] = name
        try:
            if item.record_id:
                return self._patch_company(item, item.record_id, body, own=True)
            found = self._company_by_domain(text_or_none(attributes.get("domain")))
            if found and (refused := self.claimed(item, found, "company")):
                return refused
            if found:
                return self._patch_company(item, found, body, own=False)
            if not name:
                return WriteOutcome(
                    item.key, ok=False, error="Brevo needs a name to create a company"
                )
            answer, _ = self._send("company", "POST", "/companies", body)
        except _Refused as exc:
            gone = bool(item.record_id) and exc.status == 404
            return WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=str(exc), gone=gone
            )
        record_id = text_or_none(answer.get("id"))
        if record_id is None:
            return WriteOutcome(item.key, ok=False, error="Brevo created a company without an id")
        return WriteOutcome(item.key, ok=True, record_id=record_id, created=True, data=answer)

    def _patch_company(
        self, item: WriteItem, record_id: str, body: dict[str, Any], *, own: bool
    ) -> WriteOutcome:
        try:
            answer, _ = self._send("company", "PATCH", f"/companies/{record_id}", body)
        except _Refused as exc:
            if own:
                raise
            return WriteOutcome(item.key, ok=False, error=str(exc))
        return WriteOutcome(item.key, ok=True, record_id=record_id, data=answer or None)

    def _company_by_domain(self, domain: str | None) -> str | None:
        if not domain:
            return None
        params = {
            "filters": json.dumps({"attributes.domain": domain}),
            "limit": "10",
            "page": "1",
            "sort": "asc",
        }
        answer, _ = self._send("company", "GET", "/companies", None, params)
        for company in answer.get("items") or []:
            held = text_or_none((company.get("attributes") or {}).get("domain"))
            if held and held.lower() == domain.lower() and company.get("id"):
                return str(company["id"])
        return None

    # -- calls -----------------------------------------------------------------------------

    def _send(
        self,
        label: str,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], int]:
        """One call: ``(JSON object or {}, status)`` on 2xx; ``_Refused`` for a 4xx about the
        record; ``WriteFailed`` for auth, rate limits and outages after retries."""
        response = send_json(self._client, method, path, body, tool=self.tool, params=params)
        status = response.status_code
        if 200 <= status < 300:
            answer = json_or_none(response)
            return (answer if isinstance(answer, dict) else {}), status
        if status == 404 or classify_response(response, self._provider.errors) is ErrorClass.SKIP:
            said = scrub(error_text(json_or_none(response)), self._secrets)
            raise _Refused(f"brevo refused the {label} ({status}): {said}", status)
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)


def _email(item: WriteItem, body: Mapping[str, Any]) -> str:
    value = body.get("email") or (item.key if "@" in item.key else "")
    return str(value).strip() if value else ""
