"""Salesforce Bulk API 2.0 query jobs: how clients read large objects.

``POST …/jobs/query`` (``{"operation": "query"|"queryAll", "query"}``) creates a job; its rows
are fixed when it is created (the sandbox runs the query at once, so the job is
``UploadComplete`` in the answer and ``JobComplete`` at the first status read). ``GET
…/jobs/query/{id}/results`` pages the rows as CSV (``maxRecords``, ``locator``): the header row,
then one line per record, with ``Sforce-Locator`` (the next page's locator, ``null`` on the
last) and ``Sforce-NumberOfRecords``. ``PATCH {"state": "Aborted"}`` aborts, ``DELETE`` removes
the job (204). CSV as Salesforce writes it: relationship fields as dotted columns
(``Account.Name``), null as an empty field, booleans ``true``/``false``, datetimes
``…T…Z``. Subqueries are refused as Bulk 2.0 refuses them.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.gate import json_body
from sandbox.salesforce.soql import parse_soql
from sandbox.salesforce.store import ChildSelect, SalesforceError, sf_datetime
from sandbox.state import SandboxState

__all__ = ["DEFAULT_MAX_RECORDS", "BulkJob", "bulk_routes", "to_csv"]

DEFAULT_MAX_RECORDS = 50_000
_USER_ID = "005000000000001AAA"


@dataclass
class BulkJob:
    """One query job and the rows it read when created."""

    id: str
    operation: str
    sobject: str
    created: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    state: str = "UploadComplete"
    delimiter: str = "COMMA"
    line_ending: str = "LF"

    def info(self, version: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": _USER_ID,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.state == "JobComplete":
            body.update(numberRecordsProcessed=len(self.rows), retries=0, totalProcessingTime=1)
        return body


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^"}
_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if len(text) == 28 and text.endswith("+0000") and text[10] == "T":  # sObject dateTime
        return text[:-5] + "Z"
    return text


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def to_csv(columns: list[str], rows: list[list[str]], delimiter: str, line_ending: str) -> str:
    """The header row and `rows`, quoted as Salesforce quotes (every field in double quotes)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=_DELIMITERS[delimiter],
        lineterminator=_ENDINGS[line_ending],
        quoting=csv.QUOTE_ALL,
    )
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _column_names(fields: list[Any]) -> list[str]:
    return [str(f) for f in fields]


def bulk_routes(state: SandboxState, base: str, wrap: Any) -> list[BaseRoute]:
    """The job routes under `base` (``/services/data/{version}``), wrapped by `wrap`."""
    data = state.salesforce
    jobs: dict[str, BulkJob] = data.bulk_jobs

    def version_of(request: Request) -> str:
        return str(request.path_params["version"])[1:]

    def job_of(request: Request) -> BulkJob:
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    async def create(request: Request) -> Response:
        body = await json_body(
            request, lambda _exc: SalesforceError(400, "JSON_PARSER_ERROR", "Malformed JSON")
        )
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be an object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise SalesforceError(
                400, "INVALIDJOB", "InvalidJob : Invalid operation: query/queryAll"
            )
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        ending = str(body.get("lineEnding") or "LF")
        if delimiter not in _DELIMITERS or ending not in _ENDINGS:
            raise SalesforceError(400, "INVALIDJOB", "InvalidJob : columnDelimiter or lineEnding")
        if body.get("contentType", "CSV") != "CSV":
            raise SalesforceError(400, "INVALIDJOB", "InvalidJob : Only CSV is supported")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise SalesforceError(400, "INVALIDJOB", "InvalidJob : query is required")
        parsed = parse_soql(text)
        version = version_of(request)
        with state.lock:
            now = state.now_ms()
            _total, cursor = data.run_query(
                parsed, include_deleted=operation == "queryAll", batch=1, now_ms=now
            )
            if parsed.count_only or any(isinstance(f, ChildSelect) for f in cursor.fields):
                raise SalesforceError(
                    400,
                    "API_ERROR",
                    "FeatureNotEnabled : Aggregate queries and subqueries are not supported "
                    "by Bulk API 2.0",
                )
            data.cursors.pop(cursor.locator, None)
            full = replace(cursor, batch=max(1, len(cursor.keys)))
            records, _ = data.render(full, 0, version)
            columns = _column_names(cursor.fields)
            flat = [_flatten(r) for r in records]
            rows = [[_cell(f.get(c)) for c in columns] for f in flat]
            job = BulkJob(
                id="750" + secrets.token_hex(6).upper()[:12] + "AAA",
                operation=operation,
                sobject=cursor.sobject,
                created=sf_datetime(now),
                columns=columns,
                rows=rows,
                delimiter=delimiter,
                line_ending=ending,
            )
            jobs[job.id] = job
        return JSONResponse(job.info(version))

    async def status(request: Request) -> Response:
        with state.lock:
            job = job_of(request)
            if job.state == "UploadComplete":
                job.state = "JobComplete"
            return JSONResponse(job.info(version_of(request)))

    async def listing(request: Request) -> Response:
        with state.lock:
            records = [j.info(version_of(request)) for j in jobs.values()]
        return JSONResponse({"done": True, "records": records, "nextRecordsUrl": None})

    async def abort(request: Request) -> Response:
        body = await json_body(
            request, lambda _exc: SalesforceError(400, "JSON_PARSER_ERROR", "Malformed JSON")
        )
        if not isinstance(body, dict) or body.get("state") != "Aborted":
            raise SalesforceError(400, "INVALIDJOB", "InvalidJob : state can only be Aborted")
        with state.lock:
            job = job_of(request)
            if job.state == "JobComplete":
                raise SalesforceError(400, "INVALIDJOB", "InvalidJob : Job is already complete")
            job.state = "Aborted"
            return JSONResponse(job.info(version_of(request)))

    async def delete(request: Request) -> Response:
        with state.lock:
            job = job_of(request)
            if job.state not in ("JobComplete", "Aborted", "Failed"):
                raise SalesforceError(400, "INVALIDJOB", "InvalidJob : Job is still in progress")
            jobs.pop(job.id, None)
        return Response(status_code=204)

    async def results(request: Request) -> Response:
        params = request.query_params
        raw_max = params.get("maxRecords") or str(DEFAULT_MAX_RECORDS)
        raw_locator = params.get("locator") or "0"
        if not raw_max.isdigit() or int(raw_max) < 1:
            raise SalesforceError(400, "INVALIDJOB", "InvalidJob : maxRecords must be positive")
        try:
            start = int(raw_locator, 36)
        except ValueError:
            raise SalesforceError(400, "INVALIDLOCATOR", "Invalid locator") from None
        with state.lock:
            job = job_of(request)
            if job.state != "JobComplete":
                raise SalesforceError(
                    400, "API_ERROR", f"Job {job.id} is not complete (state {job.state})"
                )
            part = job.rows[start : start + int(raw_max)]
            after = start + len(part)
            body = to_csv(job.columns, part, job.delimiter, job.line_ending)
            more = after < len(job.rows)
        locator = _base36(after) if more else "null"
        headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(part))}
        return Response(body, 200, headers=headers, media_type="text/csv")

    q = base + "/jobs/query"
    return [
        Route(q, wrap(create), methods=["POST"]),
        Route(q, wrap(listing), methods=["GET"]),
        Route(q + "/{job_id}", wrap(status), methods=["GET"]),
        Route(q + "/{job_id}", wrap(abort), methods=["PATCH"]),
        Route(q + "/{job_id}", wrap(delete), methods=["DELETE"]),
        Route(q + "/{job_id}/results", wrap(results), methods=["GET"]),
    ]


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
