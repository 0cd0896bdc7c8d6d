"""Many accounts in one wause-mcp (issue 16 "Many accounts", "Tests"): `--accounts-dir DIR` serves
one store per account under DIR; two accounts chat with each other and with a virtual phone of a
real wause-sim; one is logged out from the sim while the other keeps sending; accounts are added
and deleted at run time; `account` routes every other tool; single-account mode answers the
account tools with invalid_request.

Needs wause-sim ($WAUSE_SIM, default this checkout's .build/debug/wause-sim). Standard library
only, so it runs in both venvs. The GET stream carries every account's events, each with
`account`; states with no event of their own are polled under the deadline.
"""

from __future__ import annotations

import os
import pathlib
import stat
import sys

import pytest

from wause_harness import DEADLINE, WauseServer

_SIM_DIR = pathlib.Path(__file__).resolve().parent.parent / "sim"
if str(_SIM_DIR) not in sys.path:
    sys.path.insert(0, str(_SIM_DIR))
from engine_flows import EventReader, call_tool, call_tool_error, create_account, inbox, wait_until  # noqa: E402
from wause_harness import LATEST  # noqa: E402
from sim_process import SIM_BINARY, SimProcess  # noqa: E402

ADA, BOB, CAROL = "15550001111", "15550002222", "15550003333"


@pytest.fixture
def sim(tmp_path):
    if not os.access(SIM_BINARY, os.X_OK):
        pytest.fail(f"wause-sim binary not found or not executable: {SIM_BINARY} (set WAUSE_SIM)")
    process = SimProcess(tmp_path / "sim")
    yield process
    if process.returncode is None and process.alive():
        process.stop()


class AccountEvents(EventReader):
    """The GET stream with --accounts-dir: each event carries `account`, its SSE id is
    `<account>:<cursor>`, and cursors increase per account (each account has its own log)."""

    def next(self, name: str | None = None, timeout: float = DEADLINE) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while True:
            sse_id, message = self._next_sse(deadline)
            assert message["method"] == "notifications/wause/event", message
            event = message["params"]
            assert set(event) == {"cursor", "name", "ts", "data", "account"}, event
            assert sse_id == f"{event['account']}:{event['cursor']}", (sse_id, event)
            earlier = [e["cursor"] for e in self.seen if e["account"] == event["account"]]
            assert not earlier or event["cursor"] > earlier[-1], "cursors strictly increase per account"
            self.seen.append(event)
            if name is None or event["name"] == name:
                return event


def open_account_events(server, session) -> AccountEvents:
    stream = server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session,
                                         "MCP-Protocol-Version": LATEST})
    assert stream.status == 200
    return AccountEvents(stream)


def accounts_server(sim, directory) -> WauseServer:
    return WauseServer(None, ["--accounts-dir", str(directory), "--toolsets", "core,accounts",
                              "--server-url", sim.ws_url, "--server-root-key", sim.root_public_key])


def link(sim, server, session, account: str, phone: str) -> None:
    started = call_tool(server, session, "whatsapp_start_auth", {"account": account})
    assert started["state"] == "qr", started
    # Each account's QR on its own page.
    page = server.request("GET", f"/qr.txt?account={account}")
    assert page.status == 200, page
    assert page.body.decode().strip() == started["qr"]
    assert sim.admin("POST", f"/accounts/{phone}/scan", {"qr": started["qr"]}).status == 200
    wait_until(lambda: call_tool(server, session, "whatsapp_get_account", {"account": account})["state"] == "ready",
               f"{account} logged in")


def test_two_accounts_in_one_wause_mcp(sim, tmp_path):
    for phone, name in ((ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol")):
        create_account(sim, phone, name)
    directory = tmp_path / "accounts"
    server = accounts_server(sim, directory)
    try:
        session, _ = server.initialize()
        # One GET stream for every account's events, each carrying `account`.
        events = open_account_events(server, session)
        tools = {tool["name"]: tool for tool in server.rpc(session, "tools/list").json()["result"]["tools"]}
        assert "whatsapp_add_account" in tools and "whatsapp_delete_account" in tools
        # Every other tool takes `account` in this mode.
        assert "account" in tools["whatsapp_send_message"]["inputSchema"]["properties"]
        assert "name" in tools["whatsapp_add_account"]["inputSchema"]["properties"]

        assert call_tool(server, session, "whatsapp_list_accounts") == {"accounts": []}
        assert call_tool(server, session, "whatsapp_add_account", {"name": "ada"})["account"] == "ada"
        assert call_tool(server, session, "whatsapp_add_account", {"name": "bob"})["account"] == "bob"
        assert stat.S_IMODE(os.stat(directory / "ada").st_mode) == 0o700
        assert (directory / "bob" / "wause.db").exists()

        ambiguous = call_tool_error(server, session, "whatsapp_status", {})
        assert ambiguous["code"] == "invalid_request"
        assert ambiguous["details"]["accounts"] == ["ada", "bob"]
        assert call_tool_error(server, session, "whatsapp_status", {"account": "zed"})["code"] == "not_found"
        assert server.request("GET", "/qr.json?account=zed").status == 404

        link(sim, server, session, "ada", ADA)
        link(sim, server, session, "bob", BOB)
        logged_in = set()
        while logged_in != {"ada", "bob"}:
            connected = events.next("account.connected")
            if connected["data"].get("phase") == "login":
                logged_in.add(connected["account"])
        listed = call_tool(server, session, "whatsapp_list_accounts")["accounts"]
        assert [(entry["account"], entry["phone"], entry["state"]) for entry in listed] == [
            ("ada", "+" + ADA, "ready"), ("bob", "+" + BOB, "ready")]

        # Account to account, through the sim; by phone number as well as by id.
        call_tool(server, session, "whatsapp_send_message", {"account": "ada", "phone_number": BOB, "message": "hello bob"})
        wait_until(lambda: any(m["body"] == "hello bob" for m in call_tool(
            server, session, "whatsapp_read_messages", {"account": "+" + BOB, "phone_number": ADA})["messages"]), "bob got it")
        # A virtual phone writes to Ada.
        assert sim.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "hi from carol"}).status == 200
        wait_until(lambda: any(m["body"] == "hi from carol" for m in call_tool(
            server, session, "whatsapp_read_messages", {"account": "ada", "phone_number": CAROL})["messages"]), "ada got carol's")

        # Bob's phone removes his device: Bob is logged out, Ada keeps sending.
        jid = call_tool(server, session, "whatsapp_get_account", {"account": "bob"})["jid"]
        device = jid.split(":")[1].split("@")[0]
        assert sim.admin("DELETE", f"/accounts/{BOB}/devices/{device}").status == 200
        wait_until(lambda: call_tool(server, session, "whatsapp_get_account_status", {"account": "bob"})["status"]["state"]
                   == "logged_out", "bob logged out")
        call_tool(server, session, "whatsapp_send_message", {"account": "ada", "phone_number": CAROL, "message": "still here"})
        wait_until(lambda: any(m["text"] == "still here" for m in inbox(sim, CAROL)["messages"]), "carol got ada's")
        assert events.next("account.logged_out")["account"] == "bob"
        assert call_tool(server, session, "whatsapp_get_account", {"account": "ada"})["state"] == "ready"

        # Deleted at run time; `account` may then be omitted again.
        assert call_tool_error(server, session, "whatsapp_delete_account", {"account": "bob", "confirm": False})["code"] \
            == "invalid_request"
        assert call_tool(server, session, "whatsapp_delete_account", {"account": "bob", "confirm": True})["deleted"] is True
        assert not (directory / "bob").exists()
        assert [entry["account"] for entry in call_tool(server, session, "whatsapp_list_accounts")["accounts"]] == ["ada"]
        assert call_tool(server, session, "whatsapp_status")["state"] == "ready"
    finally:
        code = server.stop()
    assert code == 0, "".join(server.log_lines[-20:])

    # Restarted on the same directory: Ada logs in again by herself.
    again = accounts_server(sim, directory)
    try:
        session, _ = again.initialize()
        wait_until(lambda: call_tool(again, session, "whatsapp_status")["state"] == "ready", "ada back")
    finally:
        assert again.stop() == 0


def test_accounts_dir_excludes_data_dir(tmp_path):
    from wause_harness import BINARY, clean_environment
    import subprocess

    done = subprocess.run([BINARY, "--accounts-dir", str(tmp_path / "a"), "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=DEADLINE, env=clean_environment())
    assert done.returncode == 2
    assert "--accounts-dir and --data-dir exclude each other" in done.stdout + done.stderr


def test_single_account_mode_answers_account_tools_with_invalid_request(make_server):
    server = make_server("--toolsets", "all")
    session, _ = server.initialize()
    tools = {tool["name"]: tool for tool in server.rpc(session, "tools/list").json()["result"]["tools"]}
    # No `account` argument outside accounts mode: the tool list stays as it was.
    assert "account" not in tools["whatsapp_send_message"]["inputSchema"]["properties"]
    error = call_tool_error(server, session, "whatsapp_list_accounts", {})
    assert error["code"] == "invalid_request"
    assert "accounts_dir" in error["message"]


def test_accounts_stream_resumes_after_last_event_id(sim, tmp_path):
    """With --accounts-dir a client that reconnects with `Last-Event-ID: <account>:<cursor>` gets
    exactly the events it missed on every account: nothing it had, nothing skipped."""
    for phone, name in ((ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol")):
        create_account(sim, phone, name)
    server = accounts_server(sim, tmp_path / "accounts")
    try:
        session, _ = server.initialize()
        for account in ("ada", "bob"):
            call_tool(server, session, "whatsapp_add_account", {"name": account})
        link(sim, server, session, "ada", ADA)
        link(sim, server, session, "bob", BOB)

        def received(account: str, text: str) -> bool:
            return any(m["body"] == text for m in call_tool(
                server, session, "whatsapp_read_messages", {"account": account, "phone_number": CAROL})["messages"])

        # A first stream reads both accounts' events up to Carol's first message to each.
        first = open_account_events(server, session)
        for account, phone in (("ada", ADA), ("bob", BOB)):
            assert sim.admin("POST", f"/accounts/{CAROL}/send", {"to": phone, "text": f"before {account}"}).status == 200
        got = set()
        while got != {"ada", "bob"}:
            event = first.next("message.received")
            got.add(event["account"])
        last = first.seen[-1]
        last_id = f"{last['account']}:{last['cursor']}"
        had = {account: max(e["cursor"] for e in first.seen if e["account"] == account) for account in ("ada", "bob")}
        first.stream.close()

        # Disconnected: events happen on both accounts.
        for account, phone in (("ada", ADA), ("bob", BOB)):
            assert sim.admin("POST", f"/accounts/{CAROL}/send", {"to": phone, "text": f"missed {account}"}).status == 200
        for account in ("ada", "bob"):
            wait_until(lambda: received(account, f"missed {account}"), f"{account} got the missed message")

        stream = server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session,
                                             "MCP-Protocol-Version": LATEST, "Last-Event-ID": last_id})
        assert stream.status == 200
        second = AccountEvents(stream)
        missed = set()
        while missed != {"ada", "bob"}:
            event = second.next("message.received")
            if event["data"]["message"]["body"].startswith("missed "):
                missed.add(event["account"])
        for account in ("ada", "bob"):
            resent = [e["cursor"] for e in second.seen if e["account"] == account]
            assert resent and min(resent) > had[account], (account, had[account], resent)
            # Exactly the log after what the client had, in order: whatsapp_sync reads the same.
            logged = call_tool(server, session, "whatsapp_sync", {"account": account, "cursor": had[account], "limit": 1000})
            assert [e["cursor"] for e in logged["events"]][:len(resent)] == resent, (account, resent, logged)
        stream.close()

        # A second reconnect from the same id (the client got nothing in between) gets the same again.
        again = AccountEvents(server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session,
                                                          "MCP-Protocol-Version": LATEST, "Last-Event-ID": last_id}))
        event = again.next()
        assert event["cursor"] > had[event["account"]]
        assert (event["account"], event["cursor"]) in {(e["account"], e["cursor"]) for e in second.seen}
        again.stream.close()
    finally:
        assert server.stop() == 0


def test_qr_start_button_links_the_pages_account(sim, tmp_path):
    """`/qr?account=bob`: the page's button starts linking bob (not another account, not an
    error for naming none) and brings the browser back to bob's page."""
    server = accounts_server(sim, tmp_path / "accounts")
    try:
        session, _ = server.initialize()
        for account in ("ada", "bob"):
            call_tool(server, session, "whatsapp_add_account", {"name": account})
        page = server.request("GET", "/qr?account=bob").body.decode()
        assert '<form method="post" action="/qr/start?account=bob">' in page, page
        pressed = server.request("POST", "/qr/start?account=bob", body="", headers={
            "Origin": server.base, "Content-Type": "application/x-www-form-urlencoded"})
        assert pressed.status == 303 and pressed.header("Location") == "/qr?account=bob", pressed
        bob = server.request("GET", "/qr.json?account=bob").json()
        assert bob["state"] == "qr" and bob["qr"].startswith("https://wa.me/settings/linked_devices#"), bob
        assert server.request("GET", "/qr.json?account=ada").json()["state"] == "stopped"
        # Without an account, with two of them, the button cannot guess.
        assert server.request("POST", "/qr/start", body="", headers={
            "Origin": server.base, "Content-Type": "application/x-www-form-urlencoded"}).status == 400
    finally:
        assert server.stop() == 0
