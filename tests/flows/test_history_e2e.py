"""``revsync history`` over a real sync against the sandbox: every change revsync made to one
person, by tool record, email or golden id, with run, field, before, after and source."""

from __future__ import annotations

import pytest
from flow_testkit import Tools, entity_links
from sqlmodel import Session, select

from flows.cli import main
from flows.sync import sync
from state.db import engine_from_url
from state.models import JournalEntry

pytestmark = [pytest.mark.people(12), pytest.mark.connected("hubspot", "mailchimp")]


def test_history_shows_each_change_with_run_field_before_after_and_source(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    first = sync().report
    assert first.status == "completed"
    with Session(engine_from_url()) as session:
        query = select(JournalEntry).where(JournalEntry.status == "applied")
        entry = next(e for e in session.exec(query) if e.op == "create" and e.tool == "mailchimp")
    uid = str(entry.unified_id)
    field, value = next((k, v) for k, v in sorted((entry.after or {}).items()) if v)
    hubspot = next(
        rid for (tool, rid), u in entity_links("person").items() if u == uid and tool == "hubspot"
    )

    assert main(["history", f"hubspot:{hubspot}"]) == 0
    out = capsys.readouterr().out
    assert f"golden person {uid}" in out
    assert f"hubspot:{hubspot}" in out.splitlines()[1]
    change = [line for line in out.splitlines() if f"run {first.run_id} mailchimp:" in line]
    assert any(f"create/applied {field}: None -> {value!r}" in line for line in change), out
    assert f"{field} = {value!r} from hubspot:{hubspot}" in out, "the value's source"
    assert "match decisions" in out

    email = str((entry.after or {}).get("email") or entry.natural_key)
    assert main(["history", email.upper()]) == 0
    assert f"golden person {uid}" in capsys.readouterr().out
    assert main(["history", uid]) == 0
    assert main(["history", "hubspot:no-such-record"]) == 2
