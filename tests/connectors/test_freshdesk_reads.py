"""Freshdesk reads against the sandbox: 100 a page while the Link header names a next page,
contacts from _updated_since, companies whole and filtered by the cursor here."""

from __future__ import annotations

from contract_kit import connection, past_world, read_all

from sandbox.server import SandboxServer


def test_contacts_page_by_the_link_header_and_resume_from_the_cursor(
    sandbox: SandboxServer,
) -> None:
    with past_world(sandbox, "freshdesk"):
        data = sandbox.state.freshdesk
        base = sandbox.state.now_ms() - 3_600_000
        with sandbox.state.lock, data.contacts.bulk(), data.companies.bulk():
            for i in range(230):
                data.create_contact({"email": f"paged{i}@corp.io", "name": f"P {i}"}, base + i)
            for i in range(120):
                data.create_company({"name": f"Paged {i}", "domains": [f"p{i}.io"]}, base + i)
        seeded = set(data.contacts.iter_keys())
        seeded_companies = set(data.companies.iter_keys())
        conn = connection(sandbox, "freshdesk")
        contacts, state = read_all(conn, "contacts")
        companies, company_state = read_all(conn, "companies")
        requests = [r for r in sandbox.state.requests.list("freshdesk") if r["method"] == "GET"]
        assert state is not None
        assert company_state is not None
        again, _ = read_all(conn, "contacts", state)
        rest, _ = read_all(conn, "companies", company_state)

    ids = [c["id"] for c in contacts]
    assert len(ids) == len(set(ids)), "a contact came twice"
    assert set(ids) == seeded
    assert {c["id"] for c in companies} == seeded_companies
    pages = [r for r in requests if r["path"].endswith("/contacts")]
    assert len(pages) == -(-len(seeded) // 100), "one request per page of 100"
    # Contacts resume from the cursor (a minute's lookback); companies are filtered here.
    assert 0 < len(again) < len(contacts)
    assert len(rest) < len(companies)
