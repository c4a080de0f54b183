"""A sync whose read failed exits 1 and says what to do, instead of "completed"."""

from __future__ import annotations

import pytest
from flow_testkit import Tools

from flows.cli import main


@pytest.mark.connected("mailchimp")
@pytest.mark.people(10)
def test_a_failed_read_exits_non_zero_with_advice(
    tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    tools.control(
        "POST",
        "/faults",
        json={
            "tool": "mailchimp",
            "kind": "500",
            "path": r"/lists/[^/]+/members$",
            "method": "GET",
            "count": 1000,
        },
    )
    assert main(["sync", "--tools", "mailchimp"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("revsync sync: mailchimp/person was not read (")
    assert "run `revsync check --tools mailchimp`" in err[0]
