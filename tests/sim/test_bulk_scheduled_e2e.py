"""Scheduled and bulk sends through the real binaries (issue 16 "Tests"): a message scheduled
with `send_at` whose time passes while `wause-mcp` is stopped goes at the next start, its
lateness in the timeline; a bulk job of 200 recipients survives a SIGKILL halfway, and the same
call repeated after the restart returns the same job — every recipient's phone (the sim's inbox,
which files a message id once) holds exactly one message from it.

Waits block on the event stream or poll under the deadline; the one wait on the clock is for
send_at to pass while the engine is down, which is what the test is about.
"""

from __future__ import annotations

import datetime
import time

from engine_flows import call_tool, create_account, inbox, link_by_qr, start_engine, stopped_cleanly, wait_ready, wait_until
from test_messaging_faults_e2e import rows

ADA, CAROL = "15558860001", "15558860003"


def iso(instant: float) -> str:
    return datetime.datetime.fromtimestamp(instant, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def linked(sim, tmp_path_factory, extra=()):
    ada = create_account(sim, ADA, "Ada")
    server = start_engine(tmp_path_factory, sim, extra=["--toolsets", "core,delivery", *extra])
    session, events, _, _ = link_by_qr(sim, server, ada)
    wait_ready(server, session, events)
    return server, session, events


def restarted(tmp_path_factory, sim, data_dir, extra=()):
    server = start_engine(tmp_path_factory, sim, data_dir=data_dir, extra=["--toolsets", "core,delivery", *extra])
    session, _ = server.initialize()
    return server, session


def ids_in(sim, phone: str) -> list[str]:
    return [message["id"] for message in inbox(sim, phone)["messages"]]


def test_a_scheduled_send_whose_time_passed_while_stopped_goes_at_start(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, CAROL, "Carol")
    server, session, events = linked(sim, tmp_path_factory)
    send_at = time.time() + 2
    sent = call_tool(server, session, "whatsapp_send_message", {"to": CAROL, "message": "while you were out", "send_at": iso(send_at)})
    assert sent["status"] == "scheduled", sent
    listed = call_tool(server, session, "whatsapp_list_scheduled")
    assert [item["message_id"] for item in listed["scheduled"]] == [sent["message_id"]], listed
    events.stream.close()
    stopped_cleanly(server)
    assert sent["message_id"] not in ids_in(sim, CAROL)

    wait_until(lambda: time.time() > send_at + 1, "send_at to pass while the engine is stopped")
    server, session = restarted(tmp_path_factory, sim, server.data_dir)
    wait_until(lambda: sent["message_id"] in ids_in(sim, CAROL), "the scheduled message at the phone after the restart")
    status = call_tool(server, session, "whatsapp_message_status", {"message_id": sent["message_id"]})
    steps = status["timeline"]
    assert [step["status"] for step in steps][:2] == ["scheduled", "queued"], status
    assert steps[1]["late_ms"] >= 1000, status
    assert call_tool(server, session, "whatsapp_list_scheduled")["scheduled"] == []
    stopped_cleanly(server)


def test_a_bulk_of_200_killed_halfway_and_called_again_reaches_each_recipient_once(make_sim, tmp_path_factory):
    sim = make_sim()
    phones = [f"1555887{index:04d}" for index in range(200)]
    for phone in phones:
        create_account(sim, phone, f"P{phone[-3:]}")
    # No account-wide limit here, so the pacing alone spaces the job: 600 a minute.
    server, session, events = linked(sim, tmp_path_factory, extra=["--send-rate-per-minute", "0"])
    arguments = {"items": [{"to": phone, "message": f"bulk hello {phone}"} for phone in phones],
                 "pacing_per_minute": 600, "only_known_contacts": False, "idempotency_key": "launch-200"}
    job = call_tool(server, session, "whatsapp_send_bulk", arguments)
    assert job["accepted"] == 200 and job["refused"] == 0, {key: job[key] for key in ("accepted", "refused")}
    expected = {item["to"]: item["message_id"] for item in job["items"]}

    def sent_count() -> int:
        return rows(server.data_dir, "SELECT count(*) FROM messages WHERE from_me = 1 AND status IN ('sent', 'delivered', 'read')")[0][0]

    wait_until(lambda: sent_count() >= 60, "a good part of the job sent")
    server.kill()
    halfway = sent_count()
    assert halfway < 200, halfway

    server, session = restarted(tmp_path_factory, sim, server.data_dir, extra=["--send-rate-per-minute", "0"])
    again = call_tool(server, session, "whatsapp_send_bulk", arguments)
    assert again == job
    wait_until(lambda: call_tool(server, session, "whatsapp_get_bulk_status", {"job_id": job["job_id"]})["done"], "the job done")
    status = call_tool(server, session, "whatsapp_get_bulk_status", {"job_id": job["job_id"]})
    assert status["total"] == 200 and status["counts"]["failed"] == 0 and status["counts"]["cancelled"] == 0, status
    for phone in phones:
        wait_until(lambda: expected[phone] in ids_in(sim, phone), f"the message at {phone}")
        mine = [message for message in inbox(sim, phone)["messages"] if message.get("from_phone") == ADA or message["id"] == expected[phone]]
        assert [message["id"] for message in mine] == [expected[phone]], (phone, mine)
    assert rows(server.data_dir, "SELECT count(*) FROM messages WHERE from_me = 1")[0][0] == 200
    stopped_cleanly(server)
