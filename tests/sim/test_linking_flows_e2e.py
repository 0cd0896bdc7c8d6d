"""Linking to the end (issue 4): a real `wause-mcp` and a real `wause-sim` acting as the phone.

QR: the test reads the code the way a phone camera would (zxing-cpp on /qr.png) and posts it to
the account's `scan` route. Pairing code: the test reads the code from the tool result and posts
it to `enter-code`. Either way the engine verifies the phone's `pair-success`, countersigns,
reconnects with the login payload after stream error 515 and reaches `ready` with the account's
phone JID and LID. Then: restarting both processes logs in without pairing again; logout from
either side ends in `logged_out` without a reconnect loop; and what goes wrong goes wrong
cleanly (wrong code, tampered pair-success, malformed phone numbers).

Nothing sleeps: every wait blocks on the session's event stream or polls a state with a deadline.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from engine_flows import (
    PHONE, call_tool, call_tool_error, create_account, engine_keys, link_by_qr, linked_by_qr, linked_store, open_events,
    poll, scan_qr_png, start_engine, status, stopped_cleanly, wait_ready,
)
from sim_process import DEADLINE
CODE_FORMAT = re.compile(r"^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$")


def assert_linked_as(current: dict, account: dict) -> None:
    assert current["ready"] is True and current["authenticated"] is True, current
    assert current["has_qr"] is False and current["last_error"] is None, current
    assert current["account"]["wid"] == account["jid"], current
    assert current["account"]["lid"] == account["lid"], current
    assert current["account"]["platform"], current


def test_qr_linking_completes_and_the_device_logs_in(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim)
    server = start_engine(tmp_path_factory, sim)
    session, events, paired, answer = link_by_qr(sim, server, account)
    assert paired["data"]["wid"] == account["jid"], paired
    assert paired["data"]["lid"] == account["lid"], paired
    ready = wait_ready(server, session, events)
    assert_linked_as(ready, account)
    # The pairing image block goes away once linked.
    pair = call_tool(server, session, "whatsapp_pair_status")
    assert pair["qr"] is None and pair["pairing_code"] is None and pair["state"] == "ready", pair
    # The phone lists the new device, and the device JID the engine stored is the one it got.
    devices = sim.admin("GET", f"/accounts/{PHONE}/devices").json()
    assert len(devices) == 1, devices
    db = sqlite3.connect(f"file:{server.data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        jid, lid, account_key = db.execute("SELECT jid, lid, account_signature_key FROM device").fetchone()
        uploaded = db.execute("SELECT count(*) FROM prekeys WHERE uploaded = 1").fetchone()[0]
        trusted = db.execute("SELECT count(*) FROM identities WHERE address = ?",
                             (account["lid"].split("@")[0] + "_1:0",)).fetchone()[0]
    finally:
        db.close()
    assert jid == devices[0]["jid"], (jid, devices)
    assert lid.split(":")[0] == account["lid"].split("@")[0], lid
    assert len(account_key) == 32 and trusted == 1
    assert uploaded == 812  # the initial upload after pairing (whatsmeow prekeys.go uploadPreKeys)
    events.stream.close()
    stopped_cleanly(server)


def test_pairing_code_linking_completes(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim)
    server = start_engine(tmp_path_factory, sim)
    session, _ = server.initialize()
    events = open_events(server, session)
    result = call_tool(server, session, "whatsapp_pairing_code", {"phone_number": "+1 (555) 123-4567"})
    assert result["already_authenticated"] is False and result["status"] is None, result
    assert result["phone_number"] == PHONE, result
    assert CODE_FORMAT.match(result["code"]), result
    assert result["code"] in result["instructions"], result
    event = events.next("pairing.code")
    assert event["data"]["code"] == result["code"], event
    current = call_tool(server, session, "whatsapp_pair_status")
    assert current["state"] == "pairing_code" and current["pairing_code"] == result["code"], current
    assert current["has_qr"] is False and current["qr"] is None, current

    answer = sim.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": result["code"]})
    assert answer.status == 200, answer
    paired = events.next("account.paired")
    assert paired["data"]["wid"] == account["jid"], paired
    assert_linked_as(wait_ready(server, session, events), account)

    # Linked now: another request reports that instead of issuing a code.
    again = call_tool(server, session, "whatsapp_pairing_code", {"phone_number": PHONE})
    assert again["already_authenticated"] is True and again["code"] is None, again
    assert again["status"]["state"] == "ready", again
    events.stream.close()
    stopped_cleanly(server)


def test_restarting_both_processes_logs_in_without_pairing_again(make_sim, tmp_path_factory, tmp_path):
    sim_dir = tmp_path / "sim"
    sim = make_sim(sim_dir)
    account, data_dir = linked_store(sim, tmp_path_factory)
    assert sim.stop() == 0

    sim = make_sim(sim_dir)
    server = start_engine(tmp_path_factory, sim, data_dir=data_dir)
    session, _ = server.initialize()
    current = poll(lambda: (s := status(server, session))["state"] == "ready" and s,
                   "ready after restarting both", server, session)
    assert_linked_as(current, account)
    # No pairing happened: still one device, and no pairing connection on the sim.
    assert len(sim.admin("GET", f"/accounts/{PHONE}/devices").json()) == 1
    assert [c["state"] for c in sim.admin("GET", "/connections").json()] == ["ready"]
    stopped_cleanly(server)


def test_logout_from_the_engine_unlinks_and_keeps_history(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, events = linked_by_qr(sim, tmp_path_factory)
    old_keys = engine_keys(server.data_dir)

    result = call_tool(server, session, "whatsapp_logout")
    assert result == {"ok": True, "was_linked": True, "server_confirmed": True}, result
    logged_out = events.next("account.logged_out")
    assert logged_out["data"]["initiated_by"] == "user", logged_out
    current = status(server, session)
    assert current["state"] == "logged_out" and current["account"] is None, current
    assert current["authenticated"] is False, current
    assert sim.admin("GET", f"/accounts/{PHONE}/devices").json() == []
    # Fresh keys for the next link: linking again is a new device.
    assert engine_keys(server.data_dir)["identity"] != old_keys["identity"]
    # Logging out again is harmless.
    assert call_tool(server, session, "whatsapp_logout")["was_linked"] is False
    # And linking starts over with the new keys.
    started = call_tool(server, session, "whatsapp_start_auth")
    assert started["state"] == "qr", started
    events.stream.close()
    stopped_cleanly(server)


def test_the_phone_unlinking_a_connected_device_logs_it_out(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, events = linked_by_qr(sim, tmp_path_factory)
    device = sim.admin("GET", f"/accounts/{PHONE}/devices").json()[0]["device"]

    removed = sim.admin("DELETE", f"/accounts/{PHONE}/devices/{device}")
    assert removed.status == 200 and removed.json()["was_online"] is True, removed
    logged_out = events.next("account.logged_out")
    assert logged_out["data"]["initiated_by"] == "server", logged_out
    current = status(server, session)
    assert current["state"] == "logged_out" and current["account"] is None, current
    assert "401" in current["last_error"], current
    # No reconnect loop: the engine holds no connection to the simulator.
    assert sim.admin("GET", "/connections").json() == []
    events.stream.close()
    stopped_cleanly(server)


def test_a_device_unlinked_while_offline_is_logged_out_when_it_returns(make_sim, tmp_path_factory):
    sim = make_sim()
    _, data_dir = linked_store(sim, tmp_path_factory)
    device = sim.admin("GET", f"/accounts/{PHONE}/devices").json()[0]["device"]
    removed = sim.admin("DELETE", f"/accounts/{PHONE}/devices/{device}")
    assert removed.status == 200 and removed.json()["was_online"] is False, removed

    server = start_engine(tmp_path_factory, sim, data_dir=data_dir)
    session, _ = server.initialize()
    current = poll(lambda: (s := status(server, session))["state"] == "logged_out" and s,
                   "logged_out after failure 401", server, session)
    assert "failure 401" in current["last_error"], current
    assert current["account"] is None
    assert sim.admin("GET", "/connections").json() == []
    stopped_cleanly(server)


@pytest.mark.parametrize("corrupt, reason", [("hmac", "hmac-mismatch"), ("account_signature", "signature-mismatch")])
def test_a_tampered_pair_success_is_rejected_and_nothing_is_stored(make_sim, tmp_path_factory, corrupt, reason):
    sim = make_sim()
    create_account(sim)
    server = start_engine(tmp_path_factory, sim)
    session, _ = server.initialize()
    events = open_events(server, session)
    call_tool(server, session, "whatsapp_start_auth")
    answer = sim.admin("POST", f"/accounts/{PHONE}/scan", {"qr": scan_qr_png(server), "corrupt": corrupt})
    assert 400 <= answer.status < 500, answer
    assert reason in answer.json()["message"], answer.json()
    failed = events.next("pairing.failed")
    assert reason in failed["data"]["reason"], failed
    current = status(server, session)
    assert current["state"] == "auth_failure" and reason in current["last_error"], current
    assert current["account"] is None
    assert sim.admin("GET", f"/accounts/{PHONE}/devices").json() == []
    db = sqlite3.connect(f"file:{server.data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        assert db.execute("SELECT jid, account_signature_key FROM device").fetchone() == (None, None)
        assert db.execute("SELECT count(*) FROM identities").fetchone()[0] == 0
    finally:
        db.close()
    events.stream.close()
    stopped_cleanly(server)


def test_a_wrong_code_is_refused_by_the_phone_and_a_new_code_can_be_issued(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim)
    server = start_engine(tmp_path_factory, sim)
    session, _ = server.initialize()
    events = open_events(server, session)
    first = call_tool(server, session, "whatsapp_pairing_code", {"phone_number": PHONE})
    code = first["code"].replace("-", "")
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    answer = sim.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": wrong})
    assert 400 <= answer.status < 500, answer
    assert sim.admin("GET", f"/accounts/{PHONE}/devices").json() == []
    current = status(server, session)
    assert current["state"] == "pairing_code" and current["account"] is None, current

    # Asking again issues a new code on the same linking connection; that one works.
    second = call_tool(server, session, "whatsapp_pairing_code", {"phone_number": PHONE})
    assert CODE_FORMAT.match(second["code"]) and second["code"] != first["code"], (first, second)
    answer = sim.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": second["code"]})
    assert answer.status == 200, answer
    assert_linked_as(wait_ready(server, session, events), account)
    events.stream.close()
    stopped_cleanly(server)


@pytest.mark.parametrize("phone", ["", "12345", "+0 555 123 4567", "555-CALL-NOW", "1234567890123456", "+1 (555) 123-4567 x2"])
def test_malformed_phone_numbers_are_invalid_requests(make_sim, tmp_path_factory, phone):
    sim = make_sim()
    server = start_engine(tmp_path_factory, sim)
    session, _ = server.initialize()
    error = call_tool_error(server, session, "whatsapp_pairing_code", {"phone_number": phone})
    assert error["code"] == "invalid_request", error
    # Nothing was dialled for a refused request.
    assert sim.admin("GET", "/connections").json() == []
    assert status(server, session)["state"] == "stopped"
    stopped_cleanly(server)


def test_pair_prints_qr_codes_and_pair_code_prints_the_code(make_sim, tmp_path_factory):
    """`wause-mcp --pair` and `--pair-code` for machines without a browser."""
    sim = make_sim()
    account = create_account(sim)
    server = start_engine(tmp_path_factory, sim, extra=["--pair-code", "+1 555 123 4567"])
    line = server.wait_stdout(lambda text: text.startswith("Pairing code"))
    code = line.rsplit(" ", 1)[-1].strip()
    assert CODE_FORMAT.match(code), line
    assert sim.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": code}).status == 200
    server.wait_stdout(lambda text: text.strip() == "wause-mcp: ready")
    session, _ = server.initialize()
    assert_linked_as(status(server, session), account)
    stopped_cleanly(server)

    sim2 = make_sim()
    create_account(sim2)
    server = start_engine(tmp_path_factory, sim2, extra=["--pair"])
    # ANSI QR blocks, then the scan hint line.
    server.wait_stdout(lambda text: text.startswith("Scan with WhatsApp"))
    stopped_cleanly(server)
