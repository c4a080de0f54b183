"""Salesforce write side: Contacts (person), Accounts (company) and Opportunities (deal)
through sObject Collections.

Unlinked records are upserted by the External ID field revsync owns,
``PATCH /composite/sobjects/{SObject}/Revsync_Unified_Id__c``, 200 records a call: the payload
carries the golden record's unified id in ``Revsync_Unified_Id__c`` (the mapping's
``external_id_field``), so a create replayed after a crash (Salesforce created the record, we
never stored its id) updates the record it made instead of adding a second. There is never a
blind insert. Linked records (known ``record_id``) are updated by Id,
``PATCH /composite/sobjects``, 200 a call. Both send ``allOrNone: false`` and answer HTTP 200
with one result per record, in the order sent: ``{id, success, created, errors: [{statusCode,
message, fields}]}``; a refused record is an ``ok=False`` outcome carrying Salesforce's own code
and message (``REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.calls import json_or_none, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import (
    ConfigError,
    ErrorClass,
    WriteFailed,
    classify_response,
    scrub,
    vendor_message,
)
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["API", "EXTERNAL_ID_FIELD", "SalesforceWriter", "describe_errors"]

logger = logging.getLogger(__name__)

API = "/services/data/v62.0"
EXTERNAL_ID_FIELD = "Revsync_Unified_Id__c"
"""The External ID (Unique) text field revsync writes unified ids to, on Contact and Account."""

_HINTS = {
    401: (
        "Salesforce refused the session after a token refresh: check REVSYNC_SALESFORCE_"
        "CLIENT_ID, REVSYNC_SALESFORCE_CLIENT_SECRET and REVSYNC_SALESFORCE_REFRESH_TOKEN, or "
        "run `revsync connect salesforce`"
    ),
    403: (
        "the integration user lacks Create/Edit on the object, or the org's 24-hour API "
        "allocation is used up (REQUEST_LIMIT_EXCEEDED)"
    ),
}


@dataclass(frozen=True)
class _SObject:
    name: str


_CONTACT = _SObject("Contact")
_ACCOUNT = _SObject("Account")
_OPPORTUNITY = _SObject("Opportunity")
_LEAD = _SObject("Lead")
_ENTITY_SOBJECTS = {
    "person": _CONTACT,
    "contact": _CONTACT,
    "contacts": _CONTACT,
    "company": _ACCOUNT,
    "account": _ACCOUNT,
    "accounts": _ACCOUNT,
    "deal": _OPPORTUNITY,
    "opportunity": _OPPORTUNITY,
    "opportunities": _OPPORTUNITY,
    "lead": _LEAD,
    "leads": _LEAD,
}

_Indexed = Sequence[tuple[int, WriteItem]]


class SalesforceWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Salesforce Contacts and Accounts."""

    tool = "salesforce"

    def __init__(
        self, conn: Connection, client: httpx.Client | None = None, *, batch_size: int | None = None
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        """``person`` (Contacts), ``lead``, ``company`` (Accounts) or ``deal``
        (Opportunities): unlinked items upserted by
        ``Revsync_Unified_Id__c``, linked ones updated by Id; one outcome per item, in order."""
        sobject = _sobject(entity)
        outcomes: dict[int, WriteOutcome] = {}
        updates: list[tuple[int, WriteItem]] = []
        upserts: list[tuple[int, WriteItem]] = []
        for index, item in enumerate(items):
            if item.record_id:
                updates.append((index, item))
            elif _external_id(item):
                upserts.append((index, item))
            else:
                error = f"no {EXTERNAL_ID_FIELD} to upsert by: revsync never creates blindly"
                outcomes[index] = WriteOutcome(item.key, ok=False, error=error)
        for op, indexed in (("update", updates), ("upsert", upserts)):
            for start in range(0, len(indexed), self._batch_size):
                self._write(sobject, op, indexed[start : start + self._batch_size], outcomes)
        return [outcomes[i] for i in range(len(items))]

    def find_survivor(self, email: str) -> str | None:
        """The live Contact that carries ``email``'s person now, if any.

        Salesforce has no REST merge, but a merge made in the UI deletes the losers with
        ``MasterRecordId`` naming the survivor (who keeps its own email): a deleted Contact with
        this email and a master points there; else a live Contact holding the email is it.
        """
        address = email.strip().lower()
        if not address:
            return None
        literal = address.replace("\\", "\\\\").replace("'", "\\'")
        soql = (
            "SELECT Id, IsDeleted, MasterRecordId FROM Contact "
            f"WHERE Email = '{literal}' ORDER BY SystemModstamp DESC"
        )
        rows = self._query(soql)
        for row in rows:
            master = row.get("MasterRecordId")
            if row.get("IsDeleted") and master:
                return str(master)
        for row in rows:
            if not row.get("IsDeleted") and row.get("Id"):
                return str(row["Id"])
        return None

    def _query(self, soql: str) -> list[dict[str, Any]]:
        response = send_json(
            self._client, "GET", f"{API}/queryAll", None, tool=self.tool, params={"q": soql}
        )
        if response.status_code != 200:
            raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)
        body = response.json()
        return [r for r in body.get("records") or [] if isinstance(r, dict)]

    def _write(
        self, sobject: _SObject, op: str, chunk: _Indexed, outcomes: dict[int, WriteOutcome]
    ) -> None:
        records = [_record(sobject, op, item) for _, item in chunk]
        path = (
            f"{API}/composite/sobjects"
            if op == "update"
            else f"{API}/composite/sobjects/{sobject.name}/{EXTERNAL_ID_FIELD}"
        )
        body = {"allOrNone": False, "records": records}
        response = send_json(self._client, "PATCH", path, body, tool=self.tool)
        if response.status_code == 200 and isinstance(json_or_none(response), list):
            outcomes.update(_parse_results(op, chunk, json_or_none(response)))
            return
        if op == "upsert" and response.status_code == 404:
            raise self._missing_external_id(response, sobject)
        if classify_response(response, self._provider.errors) is ErrorClass.SKIP:
            # The whole call was refused for its content (a malformed record, a proxy's 422):
            # raised, so upsert_isolating splits the batch until the refused record stands alone.
            said = describe_errors(json_or_none(response)) or vendor_message(response)
            raise WriteFailed(
                f"salesforce refused the call ({response.status_code}, rejected): "
                f"{scrub(said, self._secrets)}",
                tool=self.tool,
                request=f"PATCH {response.request.url.path}",
                status=response.status_code,
                error_class=ErrorClass.SKIP,
            )
        raise write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)

    def _missing_external_id(self, response: httpx.Response, sobject: _SObject) -> WriteFailed:
        """Every create would fail alike: stop the run with the fix, not a dead letter each."""
        said = scrub(
            describe_errors(json_or_none(response)) or vendor_message(response), self._secrets
        )
        return WriteFailed(
            f"salesforce write failed: the org has no External ID field "
            f"{sobject.name}.{EXTERNAL_ID_FIELD} the integration user can edit; create it once "
            f"(Setup > Object Manager > {sobject.name} > Fields: Text(64), External ID, Unique) "
            f"and grant it edit access, see connectors/salesforce/README.md: {said}",
            tool=self.tool,
            request=f"PATCH {response.request.url.path}",
            status=response.status_code,
            error_class=ErrorClass.FATAL,
        )


def _sobject(entity: str) -> _SObject:
    try:
        return _ENTITY_SOBJECTS[entity]
    except KeyError:
        raise ConfigError(
            f"the Salesforce writer does not write {entity!r}", tool="salesforce"
        ) from None


def _external_id(item: WriteItem) -> str | None:
    value = item.properties.get(EXTERNAL_ID_FIELD)
    return str(value) if value not in (None, "") else None


def _record(sobject: _SObject, op: str, item: WriteItem) -> dict[str, Any]:
    fields = {k: v for k, v in item.properties.items() if k not in ("attributes", "Id", "id")}
    record: dict[str, Any] = {"attributes": {"type": sobject.name}}
    if op == "update":
        # The external id is written on create only: an update never re-keys a record.
        fields.pop(EXTERNAL_ID_FIELD, None)
        record["id"] = item.record_id
    record.update(fields)
    return record


def describe_errors(errors: Any) -> str:
    """``CODE: message (fields)`` for Salesforce's error objects; collections name the code
    ``statusCode``, other resources ``errorCode``."""
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        code = error.get("statusCode") or error.get("errorCode") or "ERROR"
        text = f"{code}: {error.get('message') or 'refused'}"
        fields = error.get("fields") or []
        if fields and str(fields) not in text:
            text += f" (fields: {', '.join(str(f) for f in fields)})"
        parts.append(text)
    return "; ".join(parts)


def _parse_results(op: str, chunk: _Indexed, results: list[Any]) -> dict[int, WriteOutcome]:
    """Map a collection's per-record results back onto the inputs: same order, same count."""
    outcomes: dict[int, WriteOutcome] = {}
    if len(results) != len(chunk):
        logger.warning(
            "Salesforce answered %d results for %d records; unmatched ones fail",
            len(results),
            len(chunk),
        )
    for (index, item), result in zip(chunk, results, strict=False):
        if not isinstance(result, dict):
            outcomes[index] = WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error="no result for this record"
            )
            continue
        record_id = str(result["id"]) if result.get("id") else item.record_id
        if result.get("success"):
            outcomes[index] = WriteOutcome(
                item.key,
                ok=True,
                record_id=record_id,
                created=bool(result.get("created", False)) if op == "upsert" else False,
                data=result,
            )
        else:
            reason = describe_errors(result.get("errors")) or "Salesforce refused the record"
            outcomes[index] = WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=reason
            )
    for index, item in chunk[len(results) :]:
        outcomes[index] = WriteOutcome(
            item.key, ok=False, record_id=item.record_id, error="Salesforce returned no result"
        )
    return outcomes
