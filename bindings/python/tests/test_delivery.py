"""Issue 16's delivery tools through the Python binding's generated methods, on a client linked to
a real wause-sim: ``send_message(send_at=…)``, ``list_scheduled``, ``cancel_scheduled``,
``send_bulk`` (only_known_contacts, the same idempotency_key twice), ``get_bulk_status``,
``cancel_bulk``, ``retry_message`` and ``delivery_summary``. Waits follow the event stream."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import wause

from conftest import (ADA, BOB, CAROL, Simulator, link_by_qr)



def test_scheduled_and_bulk_sends_through_the_generated_methods(simulator: Simulator, ada: wause.Client) -> None:
    events = link_by_qr(ada, simulator, ADA)
    status, _ = simulator.admin("POST", f"/accounts/{BOB}/send", {"to": ADA, "text": "bob writes first"})
    assert status == 200
    events.received("bob writes first")

    next_month = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = ada.send_message(CAROL, "next month", send_at=next_month)
    assert later["status"] == "scheduled", later
    assert ada.list_scheduled()["scheduled"][0]["send_at"] == next_month.replace("Z", ".000Z")
    assert [s["message_id"] for s in ada.list_scheduled()["scheduled"]] == [later["message_id"]]
    assert ada.cancel_scheduled(later["message_id"])["status"] == "cancelled"
    with pytest.raises(wause.InvalidRequest):
        ada.cancel_scheduled(later["message_id"])
    with pytest.raises(wause.InvalidRequest):
        ada.send_message(CAROL, "too late", send_at="2000-01-01T00:00:00Z")

    # Bob wrote to us, Carol never did: with only_known_contacts (the default) her item is refused.
    items = [{"to": BOB, "message": "bulk to bob"}, {"to": CAROL, "message": "bulk to carol"}]
    job = ada.send_bulk(items, "py-job")
    assert job["accepted"] == 1 and job["refused"] == 1, job
    assert job["items"][1]["error"]["code"] == "forbidden_recipient"
    assert ada.send_bulk(items, "py-job") == job
    with pytest.raises(wause.Error) as conflict:
        ada.send_bulk(items[:1], "py-job")
    assert conflict.value.code == "idempotency_conflict"
    bob_id = job["items"][0]["message_id"]
    events.wait("message.status", lambda data: data["message_id"] == bob_id and data["status"] == "sent")
    counts = ada.get_bulk_status(job["job_id"])
    assert counts["total"] == 2 and counts["counts"]["refused"] == 1 and counts["done"] is True, counts
    assert ada.cancel_bulk(job["job_id"])["cancelled"] == 0
    with pytest.raises(wause.NotFound):
        ada.get_bulk_status("bulk-none")

    with pytest.raises(wause.InvalidRequest):
        ada.retry_message(bob_id)
    summary = ada.delivery_summary()
    assert summary["counts"]["cancelled"] == 1 and summary["total"] == 2, summary
