"""Aircall reads against the sandbox: calls by from/to windows on their start, oldest first,
50 a page; a window holding more calls than Aircall serves for one query is split and read
completely (the cap lowered to 100 in the sandbox, so no test needs 10,000 calls); the next
read resumes from the cursor; contacts carry flat copies of their first number and email."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from contract_kit import connection, past_world, read_all

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
