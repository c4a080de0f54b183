"""The official hubspot-api-client works against the sandbox with only the host changed."""

from __future__ import annotations

from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException
from sandbox_testkit import fresh

from sandbox.credentials import SANDBOX_HUBSPOT_TOKEN
from sandbox.server import SandboxServer


@pytest.fixture
def client(sandbox: SandboxServer) -> hubspot.HubSpot:
    fresh(sandbox)
    return hubspot.HubSpot(access_token=SANDBOX_HUBSPOT_TOKEN, host=sandbox.base_url("hubspot"))


def _create(client: hubspot.HubSpot, **props: str) -> Any:
    return client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=props))


def test_create_get_update_round_trip(client: hubspot.HubSpot) -> None:
    created = _create(client, email="Ada.Lovelace@Analytical.io", firstname="Ada")
    assert created.properties["email"] == "ada.lovelace@analytical.io"  # HubSpot lowercases
    assert created.created_at.tzinfo is not None

    got = client.crm.contacts.basic_api.get_by_id(created.id, properties=["email", "firstname"])
    assert got.properties["firstname"] == "Ada"

    by_email = client.crm.contacts.basic_api.get_by_id(
        "ADA.lovelace@analytical.io", id_property="email"
    )
    assert by_email.id == created.id

    updated = client.crm.contacts.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"lastname": "King"})
    )
    assert updated.properties["lastname"] == "King"
    assert updated.updated_at >= created.updated_at


def test_get_page_follows_after_cursor(client: hubspot.HubSpot) -> None:
    for i in range(5):
        _create(client, email=f"p{i}@corp.io")
    first = client.crm.contacts.basic_api.get_page(limit=2, properties=["email"])
    assert len(first.results) == 2
    seen = [r.properties["email"] for r in first.results]
    after = first.paging.next.after
    while after:
        page = client.crm.contacts.basic_api.get_page(limit=2, after=after, properties=["email"])
        seen += [r.properties["email"] for r in page.results]
        after = page.paging.next.after if page.paging else None
    assert seen == [f"p{i}@corp.io" for i in range(5)]


def test_duplicate_create_is_409_with_existing_id(client: hubspot.HubSpot) -> None:
    created = _create(client, email="dup@corp.io")
    with pytest.raises(ApiException) as info:
        _create(client, email="DUP@corp.io")
    assert info.value.status == 409
    assert f"Existing ID: {created.id}" in info.value.body


def test_unknown_id_raises_not_found(client: hubspot.HubSpot) -> None:
    with pytest.raises(NotFoundException):
        client.crm.contacts.basic_api.get_by_id("999999")


def test_batch_create_read_update_upsert(client: hubspot.HubSpot) -> None:
    batch = client.crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"email": f"b{i}@corp.io"}} for i in range(3)]
        )
    )
    assert created.status == "COMPLETE"
    ids = sorted(r.id for r in created.results)
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids], properties=["email"], properties_with_history=[]
        )
    )
    assert sorted(r.id for r in read.results) == ids
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": ids[0], "properties": {"city": "Lisbon"}}]
        )
    )
    assert updated.results[0].properties["city"] == "Lisbon"
    upserted = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "b0@corp.io", "idProperty": "email", "properties": {"firstname": "B0"}},
                {"id": "new@corp.io", "idProperty": "email", "properties": {"firstname": "N"}},
            ]
        )
    )
    by_email = {r.properties["email"]: r for r in upserted.results}
    assert by_email["b0@corp.io"].new is False
    assert by_email["new@corp.io"].new is True


def test_batch_upsert_partial_failure_deserializes_as_207(client: hubspot.HubSpot) -> None:
    result = client.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "ok@corp.io", "idProperty": "email", "properties": {"firstname": "Ok"}},
                {"id": "broken@@corp", "idProperty": "email", "properties": {"firstname": "X"}},
            ]
        )
    )
    assert result.num_errors == 1
    assert result.errors[0].category == "VALIDATION_ERROR"
    assert [r.properties["email"] for r in result.results] == ["ok@corp.io"]


def test_search_incremental_on_lastmodifieddate(client: hubspot.HubSpot) -> None:
    for i in range(4):
        _create(client, email=f"s{i}@corp.io")
    last = client.crm.contacts.basic_api.update(
        client.crm.contacts.basic_api.get_by_id("s1@corp.io", id_property="email").id,
        SimplePublicObjectInput(properties={"firstname": "Changed"}),
    )
    since = int(last.updated_at.timestamp() * 1000)
    request = PublicObjectSearchRequest(
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)}
                ]
            }
        ],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "firstname"],
        limit=100,
    )
    page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert page.total >= 1
    assert "s1@corp.io" in [r.properties["email"] for r in page.results]
    assert all(r.updated_at.timestamp() * 1000 >= since for r in page.results)
