"""Aircall reads against the sandbox: calls by from/to windows on their start, oldest first,
50 a page; a window holding more calls than Aircall serves for one query is split and read
completely (the cap lowered to 100 in the sandbox, so no test needs 10,000 calls), or split at
once when its first page counts more than the cap (a fake API); the next read resumes from the
cursor; contacts carry flat copies of their first number and email."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import requests_mock as rm
from contract_kit import connection, past_world, read_all
from pydantic import SecretStr

from connectors.connections import Connection
from connectors.runner import Record, cdk_sleep, read_stream
from sandbox.server import SandboxServer

CAP = 100


def _place(sandbox: SandboxServer, count: int, start_s: int, every_s: int) -> list[int]:
    data = sandbox.state.aircall
    with sandbox.state.lock:
        return [
            data.place_call(f"+1415555{i:04d}", start_s + i * every_s, user_id=1001)["id"]
            for i in range(count)
        ]


def test_a_window_past_the_cap_is_split_and_read_completely_then_resumed(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with past_world(sandbox, "aircall"):
        monkeypatch.setattr(sandbox.state.aircall, "max_records", CAP)
        sandbox.state.configure_limit("aircall", max_requests=10_000)
        now = sandbox.state.now_ms() // 1000
        # 260 calls within two days: more than one query may return, in any year's window.
        placed = _place(sandbox, 260, now - 2 * 86_400, 600)
        every = set(sandbox.state.aircall.calls.iter_keys())
        assert len(every) > CAP
        sandbox.state.requests.clear()
        conn = connection(sandbox, "aircall")
        calls, state = read_all(conn, "calls")
        requests = [r for r in sandbox.state.requests.list("aircall") if r["path"] == "/v1/calls"]
        assert state is not None
        later = _place(sandbox, 3, now + 10, 1)
        again, _ = read_all(conn, "calls", state)

    ids = {c["id"] for c in calls}
    assert ids == every, f"{len(every - ids)} calls never read"
    assert set(placed) <= ids
    refused = [r for r in requests if r["status"] == 400]
    assert refused, "no query reached the lowered cap: the test proves nothing"
    queries = [parse_qs(r["query"]) for r in requests]
    assert all(q["order"] == ["asc"] and q["per_page"] == ["50"] for q in queries)
    assert all("from" in q and "to" in q for q in queries)
    narrowest = min(int(q["to"][0]) - int(q["from"][0]) for q in queries)
    assert narrowest < 2 * 86_400, "the window was never split"
    # From the cursor (an hour's lookback): the new calls and the last hour's, not the rest.
    again_ids = {c["id"] for c in again}
    assert set(later) <= again_ids
    assert len(again_ids) < len(ids) / 10


def test_calls_carry_their_outcome_and_contacts_their_first_number_and_email(
    sandbox: SandboxServer,
) -> None:
    with past_world(sandbox, "aircall"):
        sandbox.state.configure_limit("aircall", max_requests=10_000)
        conn = connection(sandbox, "aircall")
        calls, _ = read_all(conn, "calls")
        contacts, _ = read_all(conn, "contacts")
    assert {c["outcome"] for c in calls} <= {"answered", "missed", "voicemail"}
    for c in calls:
        expected = "voicemail" if c["voicemail"] else "answered" if c["answered_at"] else "missed"
        assert c["outcome"] == expected
        assert c["started_at_iso"].endswith("Z")
    assert any(c["outcome"] == "voicemail" for c in calls)
    assert any(c["raw_digits"] == "anonymous" for c in calls)
    for contact in contacts:
        assert contact["phone"] == contact["phone_numbers"][0]["value"]
        first = contact["emails"][0]["value"] if contact["emails"] else ""
        assert contact["email"] == first


class _CrowdedCalls:
    """Aircall's calls list where any query wider than a week reports more than 10,000 calls
    (a busy call centre, without holding 10,000 of them): the first page says so in
    ``meta.total``, and a page past the cap would be refused."""

    def __init__(self, starts: list[int]) -> None:
        self.calls = [{"id": i + 1, "started_at": s} for i, s in enumerate(sorted(starts))]
        self.queries: list[dict[str, list[str]]] = []

    def __call__(self, request: requests.PreparedRequest, context: Any) -> dict[str, Any]:
        query = parse_qs(request.url.split("?", 1)[1])  # type: ignore[union-attr]
        self.queries.append(query)
        low, high = int(query["from"][0]), int(query["to"][0])
        page, per_page = int(query.get("page", ["1"])[0]), int(query["per_page"][0])
        inside = [c for c in self.calls if low <= c["started_at"] <= high]
        total = 10_001 if high - low > 7 * 86_400 else len(inside)
        if page * per_page > 10_000:
            context.status_code = 400
            return {"error": "Invalid parameters", "troubleshoot": "Use the from and to parameters"}
        part = inside[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(inside)
        meta = {"total": total, "current_page": page, "next_page_link": "next" if more else None}
        return {
            "calls": [{**c, "voicemail": None, "answered_at": None} for c in part],
            "meta": meta,
        }


def test_a_window_whose_first_page_counts_more_than_the_cap_is_split_at_once() -> None:
    now = int(datetime.now(UTC).timestamp())
    starts = [now - 40 * 86_400 + i * 3_600 for i in range(0, 900, 7)]  # ~5 weeks of calls
    fake = _CrowdedCalls(starts)
    conn = Connection(
        tool="aircall",
        base_url="https://api.aircall.io",
        secrets={"api_token": SecretStr("token-123456")},
        options={"api_id": "id-1"},
    )
    state = {"started_at": str(now - 60 * 86_400)}
    with rm.Mocker() as mock, cdk_sleep(lambda _s: None):
        mock.get("https://api.aircall.io/v1/calls", json=fake)
        records = [r.data for r in read_stream(conn, "calls", state) if isinstance(r, Record)]
    assert {r["id"] for r in records} == {c["id"] for c in fake.calls}
    widths = [int(q["to"][0]) - int(q["from"][0]) for q in fake.queries]
    pages = [int(q.get("page", ["1"])[0]) for q in fake.queries]
    assert max(widths) > 7 * 86_400, "the read started with the whole window"
    wide = [p for p, w in zip(pages, widths, strict=True) if w > 7 * 86_400]
    assert set(wide) == {1}, "a window counted past the cap was paged instead of split"
