"""Zendesk Support write side: users (person) in bulk jobs, organizations (company) one by one.

People go through ``POST /api/v2/users/create_or_update_many``, 100 per call. Zendesk matches
each user to an existing one by email (any of its identities) or ``external_id``, so a create
replayed after a crash updates the user it made instead of adding a second. The call only
queues a background job: the writer polls ``GET /api/v2/job_statuses/{id}`` until it is
``completed`` (or ``failed``/``killed``), waiting through ``connectors.retry.sleeper`` so tests
wait zero, and maps ``results[]`` back to the inputs by ``index``, then by user id, then by
position. Bulk imports are off by default in a Zendesk account (the call answers 403): the
writer then sends the same users one by one to ``POST /api/v2/users/create_or_update``.

Organizations go one per call. Creates use ``POST /api/v2/organizations/create_or_update``,
which matches ``external_id`` (revsync writes the unified id there), so a replayed create
updates; updates use ``PUT /api/v2/organizations/{id}``, which answers 404 for a deleted one
instead of recreating it. ``create_many`` has no matching (a replay would fail on the unique
name and leave the organization unlinked) and organizations are few (one per ~25 people), so
one call each costs little of the 700 a minute.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from connectors import retry
from connectors.calls import json_or_none, send_for_json, send_json, write_failed
from connectors.connections import Connection
from connectors.errors import (
    ConfigError,
    ErrorClass,
    WriteFailed,
    classify_response,
    scrub,
    vendor_message,
)
from connectors.values import merged_domains
from connectors.writer import HttpWriter, WriteItem, WriteOutcome

__all__ = ["JobPolling", "ZendeskWriter", "describe_error"]

logger = logging.getLogger(__name__)

_USERS_BULK = "/api/v2/users/create_or_update_many"
_USER_UPSERT = "/api/v2/users/create_or_update"
_USER_SEARCH = "/api/v2/users/search"
_ORG_UPSERT = "/api/v2/organizations/create_or_update"
_HINTS = {
    401: "check the agent email and API token (REVSYNC_ZENDESK_EMAIL, REVSYNC_ZENDESK_API_TOKEN)",
    403: "the agent in REVSYNC_ZENDESK_EMAIL may not manage users and organizations",
}
_FINAL = frozenset({"completed", "failed", "killed"})

_Indexed = Sequence[tuple[int, WriteItem, dict[str, Any]]]


@dataclass(frozen=True)
class JobPolling:
    """How a background job is waited for: doubling waits from ``first_wait`` up to
    ``max_wait``, giving up after ``timeout`` seconds of waiting in all."""

    first_wait: float = 1.0
    max_wait: float = 8.0
    timeout: float = 600.0


def describe_error(body: Any) -> str:
    """``RecordInvalid: Email: … is already being used`` from Zendesk's error shapes: a
    ``{error, description, details: {field: [{description}]}}`` body or a job result."""
    if not isinstance(body, dict):
        return str(body)[:300] if body else "rejected"
    error = body.get("error")
    if isinstance(error, dict):  # {"error": {"title", "message"}}
        error = error.get("title") or error.get("message")
    details = body.get("details")
    reasons: list[str] = []
    if isinstance(details, dict):
        for entries in details.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                text = entry.get("description") if isinstance(entry, dict) else entry
                if text:
                    reasons.append(str(text))
    elif isinstance(details, str) and details:
        reasons.append(details)
    if not reasons and isinstance(body.get("description"), str):
        reasons.append(body["description"])
    head = str(error or body.get("status") or "rejected")
    return f"{head}: {'; '.join(reasons)}"[:300] if reasons else head[:300]


class ZendeskWriter(HttpWriter):
    """:class:`connectors.writer.Writer` for Zendesk Support users and organizations."""

    tool = "zendesk"

    def __init__(
        self,
        conn: Connection,
        client: httpx.Client | None = None,
        *,
        batch_size: int | None = None,
        polling: JobPolling | None = None,
    ) -> None:
        super().__init__(conn, client, batch_size=batch_size)
        self._polling = polling or JobPolling()
        self._bulk = True  # until the account answers that bulk imports are off

    # -- the Writer protocol -------------------------------------------------------------

    def upsert(self, entity: str, items: list[WriteItem]) -> list[WriteOutcome]:
        if entity == "person":
            return self._upsert_users(items)
        if entity == "company":
            return [self._write_org(item) for item in items]
        raise ConfigError(f"the Zendesk writer does not write {entity!r}", tool=self.tool)

    # -- merges made in Zendesk ----------------------------------------------------------

    def find_survivor(self, email: str) -> str | None:
        """The id of the active user who holds ``email`` now, if any.

        After a merge in Zendesk the merged-away user reads back ``active: false`` without
        email, and its email identities belong to the user it was merged into: searching the
        address finds that survivor.
        """
        address = email.strip().lower()
        if not address:
            return None
        response = send_json(
            self._client,
            "GET",
            _USER_SEARCH,
            None,
            tool=self.tool,
            params={"query": f'email:"{address}"'},
        )
        if response.status_code != 200:
            raise self._failed(response)
        for user in response.json().get("users") or []:
            if isinstance(user, dict) and user.get("active", True) and user.get("id") is not None:
                return str(user["id"])
        return None

    # -- users ---------------------------------------------------------------------------

    def _upsert_users(self, items: list[WriteItem]) -> list[WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        ready: list[tuple[int, WriteItem, dict[str, Any]]] = []
        for index, item in enumerate(items):
            user = dict(item.properties)
            if item.key and not user.get("email"):
                user["email"] = item.key  # what create_or_update finds the user by
            if user.get("email") or user.get("external_id"):
                ready.append((index, item, user))
            else:
                outcomes[index] = WriteOutcome(
                    item.key,
                    ok=False,
                    record_id=item.record_id,
                    error="no email or external_id to find or create the user by",
                )
        for start in range(0, len(ready), self._batch_size):
            chunk = ready[start : start + self._batch_size]
            write = self._users_bulk if self._bulk else self._users_one_by_one
            outcomes.update(write(chunk))
        return [outcomes[i] for i in range(len(items))]

    def _users_bulk(self, chunk: _Indexed) -> dict[int, WriteOutcome]:
        body = {"users": [user for _, _, user in chunk]}
        response = send_json(self._client, "POST", _USERS_BULK, body, tool=self.tool)
        if response.status_code == 403:
            # Bulk imports need the account owner to ask Zendesk; the single-user upsert is
            # always there. If it is refused too, that one raises the permission error.
            logger.warning("Zendesk refused bulk user imports (403); writing users one by one")
            self._bulk = False
            return self._users_one_by_one(chunk)
        if response.status_code != 200:
            raise self._failed(response)
        job = self._await_job(response.json().get("job_status") or {})
        return _job_outcomes(chunk, job)

    def _users_one_by_one(self, chunk: _Indexed) -> dict[int, WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        for index, item, user in chunk:
            response = send_json(self._client, "POST", _USER_UPSERT, {"user": user}, tool=self.tool)
            outcomes[index] = self._single_outcome(item, response, "user")
        return outcomes

    def _await_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Poll a background job until it ends; ``WriteFailed`` (retry later) if it does not."""
        job_id = job.get("id")
        wait, waited = self._polling.first_wait, 0.0
        while str(job.get("status") or "").lower() not in _FINAL:
            if not job_id:
                raise WriteFailed(
                    "Zendesk queued a job without an id; try again later",
                    tool=self.tool,
                    request=f"POST {_USERS_BULK}",
                    error_class=ErrorClass.RETRY,
                )
            if waited >= self._polling.timeout:
                raise WriteFailed(
                    f"Zendesk job {job_id} still {job.get('status')} after {waited:.0f}s; the "
                    "next run sends these records again (create_or_update does not duplicate)",
                    tool=self.tool,
                    request=f"GET /api/v2/job_statuses/{job_id}",
                    error_class=ErrorClass.RETRY,
                )
            retry.sleeper(wait)
            waited += wait
            wait = min(wait * 2, self._polling.max_wait)
            status = send_for_json(
                self._client,
                "GET",
                f"/api/v2/job_statuses/{job_id}",
                None,
                tool=self.tool,
                hints=_HINTS,
                secrets=self._secrets,
            )
            job = status.get("job_status") or {}
        return job

    # -- organizations -------------------------------------------------------------------

    def _write_org(self, item: WriteItem) -> WriteOutcome:
        org = dict(item.properties)
        if item.record_id:
            if isinstance(org.get("domain_names"), list):
                found = self._org_domains(item)
                if isinstance(found, WriteOutcome):
                    return found
                org["domain_names"] = merged_domains(org["domain_names"], found)
            path = f"/api/v2/organizations/{item.record_id}"
            response = send_json(self._client, "PUT", path, {"organization": org}, tool=self.tool)
            return self._single_outcome(item, response, "organization")
        if not org.get("external_id"):
            return WriteOutcome(
                item.key,
                ok=False,
                error="no external_id: organizations are created by external_id, so that a "
                "replayed create cannot make a second one",
            )
        response = send_json(
            self._client, "POST", _ORG_UPSERT, {"organization": org}, tool=self.tool
        )
        return self._single_outcome(item, response, "organization")

    def _org_domains(self, item: WriteItem) -> list[str] | WriteOutcome:
        """The organization's current domain list (a 404 is the item's failed outcome)."""
        path = f"/api/v2/organizations/{item.record_id}"
        response = send_json(self._client, "GET", path, None, tool=self.tool)
        if response.status_code == 200:
            current = (response.json().get("organization") or {}).get("domain_names")
            return [str(d) for d in current or [] if d]
        return self._single_outcome(item, response, "organization")

    # -- shared --------------------------------------------------------------------------

    def _single_outcome(self, item: WriteItem, response: httpx.Response, kind: str) -> WriteOutcome:
        """200 updated / 201 created; a record-level refusal is a failed outcome, else raise."""
        if response.status_code in (200, 201):
            record = response.json().get(kind) or {}
            rid = record.get("id")
            return WriteOutcome(
                item.key,
                ok=rid is not None,
                record_id=str(rid) if rid is not None else item.record_id,
                created=response.status_code == 201,
                error=None if rid is not None else f"Zendesk answered no {kind} id",
                data=record,
            )
        if classify_response(response, self._provider.errors) is ErrorClass.SKIP:
            body = json_or_none(response)
            reason = (
                describe_error(body)
                if body is not None
                else vendor_message(response, rules=self._provider.errors)
            )
            if response.status_code == 404:
                reason = f"{kind} {item.record_id} not found in Zendesk (deleted?): {reason}"
            return WriteOutcome(
                item.key,
                ok=False,
                record_id=item.record_id,
                error=scrub(reason, self._secrets),
            )
        raise self._failed(response)

    def _failed(self, response: httpx.Response) -> WriteFailed:
        return write_failed(response, tool=self.tool, hints=_HINTS, secrets=self._secrets)


def _job_outcomes(chunk: _Indexed, job: Mapping[str, Any]) -> dict[int, WriteOutcome]:
    """Map a finished job's ``results[]`` back onto the inputs.

    Created users come back as ``{id, index}``, updated ones as ``{id, action: "update",
    status, success}`` (no index: then the user id, then the position in the list tells which
    input it was), failures as ``{index, error, details, success: false}``.
    """
    results = [r for r in job.get("results") or [] if isinstance(r, dict)]
    placed: dict[int, dict[str, Any]] = {}  # position in chunk -> result
    pending: list[tuple[int, dict[str, Any]]] = []
    for n, result in enumerate(results):
        position = result.get("index")
        if isinstance(position, int) and 0 <= position < len(chunk) and position not in placed:
            placed[position] = result
        else:
            pending.append((n, result))
    for n, result in pending:
        rid = str(result.get("id")) if result.get("id") is not None else None
        by_id = [
            p
            for p, (_, item, _) in enumerate(chunk)
            if p not in placed and rid and item.record_id == rid
        ]
        email = str(result.get("email") or "").lower()
        by_email = [
            p
            for p, (_, _, user) in enumerate(chunk)
            if p not in placed and email and str(user.get("email") or "").lower() == email
        ]
        position = (by_id or by_email or [n if n < len(chunk) and n not in placed else -1])[0]
        if position < 0:
            logger.warning("Zendesk job result matches no input (id %s)", rid)
            continue
        placed[position] = result

    status = str(job.get("status") or "").lower()
    missing = (
        f"Zendesk job {status}: {job.get('message') or 'no reason given'}"
        if status != "completed"
        else "Zendesk's job returned no result for this record"
    )
    outcomes: dict[int, WriteOutcome] = {}
    for position, (index, item, _) in enumerate(chunk):
        found = placed.get(position)
        if found is None:
            outcomes[index] = WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=missing
            )
        elif found.get("success") is False or found.get("error"):
            outcomes[index] = WriteOutcome(
                item.key, ok=False, record_id=item.record_id, error=describe_error(found)
            )
        else:
            action = str(found.get("action") or "").lower()
            state = str(found.get("status") or "").lower()
            rid = found.get("id")
            outcomes[index] = WriteOutcome(
                item.key,
                ok=rid is not None,
                record_id=str(rid) if rid is not None else item.record_id,
                created=action == "create" or state == "created" or (not action and not state),
                error=None if rid is not None else "Zendesk's job result has no user id",
                data=found,
            )
    return outcomes
