"""Dead letters end to end over real HTTP against the sandbox: a record a bad mapping refused
waits as a letter, a replay before the fix records a failed attempt, a replay after the fix
syncs the record through and closes the letter; dismiss says who closed one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flow_testkit import Tools, entity_links
from sqlmodel import Session, select

from flows.cli import main
from flows.sync import sync
from mappings.spec import MAPPINGS_DIR
from state.db import engine_from_url
from state.models import DeadLetter, DeadLetterAttempt

pytestmark = [pytest.mark.people(12), pytest.mark.connected("hubspot", "mailchimp")]


def _bad_mappings(tmp_path: Path) -> Path:
    """The shipped mappings with one mistake: HubSpot's job title read as an email address."""
    bad = tmp_path / "bad-mappings"
    shutil.copytree(MAPPINGS_DIR, bad, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = bad / "hubspot.yaml"
    text = path.read_text()
    wrong = "tool: properties.jobtitle,       transform: email"
    path.write_text(text.replace("tool: properties.jobtitle,       transform: text", wrong, 1))
    assert wrong in path.read_text()
    return bad


def _letters(*, open_only: bool = True) -> list[DeadLetter]:
    with Session(engine_from_url()) as session:
        found = list(session.exec(select(DeadLetter).where(DeadLetter.stage == "map")))
    return [d for d in found if d.resolved_at is None or not open_only]


def _attempts(letter_id: int) -> list[DeadLetterAttempt]:
    with Session(engine_from_url()) as session:
        query = select(DeadLetterAttempt).where(DeadLetterAttempt.letter_id == letter_id)
        return list(session.exec(query.order_by(DeadLetterAttempt.id)))  # type: ignore[arg-type]


def test_a_record_a_bad_mapping_refused_is_replayed_after_the_fix_and_its_letter_closes(
    tools: Tools,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rid = tools.create_hubspot(
        {
            "email": "nia.replay@northwind-traders.com",
            "firstname": "Nia",
            "jobtitle": "Head of Sales",
        }
    )
    monkeypatch.setenv("REVSYNC_MAPPINGS_DIR", str(_bad_mappings(tmp_path)))
    assert sync().report.status == "completed"
    letters = [d for d in _letters() if d.record_id == rid]
    assert len(letters) == 1, [(d.record_id, d.reason) for d in _letters()]
    letter = letters[0]
    assert letter.id is not None
    assert "invalid email syntax" in letter.reason
    assert ("hubspot", rid) not in entity_links("person")
    assert "nia.replay@northwind-traders.com" not in {
        m["email_address"] for m in tools.mailchimp_members()
    }

    # Listed by reason; a replay before the fix fails again and says so.
    assert main(["dead-letters", "list", "--reason", "INVALID EMAIL"]) == 0
    assert f"#{letter.id} " in capsys.readouterr().out
    assert main(["dead-letters", "replay", str(letter.id)]) == 1
    out = capsys.readouterr().out
    assert "0 went through and closed, 1 failed again" in out
    assert [
        (a.outcome, "invalid email syntax" in (a.reason or "")) for a in _attempts(letter.id)
    ] == [("failed", True)]
    assert main(["dead-letters", "show", str(letter.id)]) == 0
    shown = capsys.readouterr().out
    assert "attempts:" in shown
    assert "failed" in shown
    assert "Head of Sales" in shown
    # A filter that selects nothing replays nothing.
    assert main(["dead-letters", "replay", "--reason", "no such reason"]) == 0
    assert "No open dead letters to replay." in capsys.readouterr().out

    # The mapping is fixed (back to the shipped one): the replay takes the record through.
    monkeypatch.delenv("REVSYNC_MAPPINGS_DIR")
    others = {d.id for d in _letters()} - {letter.id}
    assert main(["dead-letters", "replay", "--tool", "hubspot", "--reason", "email"]) == 0
    out = capsys.readouterr().out
    assert ", 0 failed again" in out, out
    assert letter.id not in {d.id for d in _letters()}
    assert others.isdisjoint({d.id for d in _letters()}), "the other refused records went too"
    assert [a.outcome for a in _attempts(letter.id)] == ["failed", "resolved"]
    assert ("hubspot", rid) in entity_links("person")
    members = {m["email_address"]: m for m in tools.mailchimp_members()}
    assert "nia.replay@northwind-traders.com" in members, (
        "the replayed person reached the other tool"
    )


def test_a_dismissed_letter_says_who_closed_it_and_why(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    from state.db import init_schema, session_scope
    from state.dead_letters import add_dead_letter
    from state.runs import start_run

    engine = engine_from_url()
    init_schema(engine)
    with session_scope(engine) as session:
        start_run(session, "r1", None, dry_run=False)
        letter = add_dead_letter(
            session, "r1", "mailchimp", "members", None, "apply", "Invalid Resource", {}
        )
    assert main(["dead-letters", "dismiss", str(letter), "--by", "ana", "--note", "test data"]) == 0
    assert "dismissed by ana" in capsys.readouterr().out
    assert main(["dead-letters", "list"]) == 0
    assert f"#{letter} " not in capsys.readouterr().out
    assert main(["dead-letters", "show", str(letter)]) == 0
    shown = capsys.readouterr().out
    assert "dismissed by ana" in shown
    assert "test data" in shown
    assert "closed" in shown
    assert main(["dead-letters", "show", "999"]) == 2
