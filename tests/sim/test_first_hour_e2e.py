"""The first hour (issue 11) through the real binaries: `wause-mcp` against a real `wause-sim`.

`--pair-code` for a number with no account prints why and exits 1; `/qr.json` and `/qr.txt` give
the QR string the page shows; the page's button (`POST /qr/start`) starts linking; a store linked
to the simulator and reopened without `--server-url` logs in there again, and one reopened with
another server stays off the network in `auth_failure`.

Nothing sleeps: every wait blocks on a printed line, an event-stream line or a process exit.
"""

from __future__ import annotations

from engine_flows import call_tool, linked_store, poll, start_engine, status, stopped_cleanly
from sim_process import DEADLINE
from wause_harness import WauseServer


def test_pair_code_for_a_number_not_on_whatsapp_exits_1(make_sim, tmp_path_factory):
    sim = make_sim()
    server = start_engine(tmp_path_factory, sim, extra=["--pair-code", "+1 555 999 0000"])
    line = server.wait_stdout(lambda text: text.startswith("wause-mcp: no pairing code"))
    assert "+15559990000 is not on WhatsApp" in line, line
    assert server.proc.wait(timeout=DEADLINE) == 1


def test_qr_json_txt_and_the_start_button(make_sim, tmp_path_factory):
    sim = make_sim()
    server = start_engine(tmp_path_factory, sim)
    idle = server.request("GET", "/qr.json")
    assert idle.status == 200 and idle.json() == {"state": "stopped", "qr": None, "code": None, "expires_at": None}
    assert server.request("GET", "/qr.txt").status == 404
    page = server.request("GET", "/qr").body.decode()
    assert '<form method="post" action="/qr/start">' in page

    # Another origin (even on this machine) cannot press the button.
    assert server.request("POST", "/qr/start", headers={"Origin": "http://127.0.0.1:1"}).status == 403
    pressed = server.request("POST", "/qr/start", body="", headers={
        "Origin": server.base, "Content-Type": "application/x-www-form-urlencoded"})
    assert pressed.status == 303 and pressed.header("Location") == "/qr", pressed
    current = server.request("GET", "/qr.json").json()
    assert current["state"] == "qr" and current["qr"].startswith("https://wa.me/settings/linked_devices#"), current
    assert current["expires_at"] and current["code"] is None, current
    text = server.request("GET", "/qr.txt")
    assert text.status == 200 and text.body.decode() == current["qr"] + "\n"
    stopped_cleanly(server)


def test_a_link_keeps_its_server(make_sim, tmp_path_factory):
    sim = make_sim()
    _, data_dir = linked_store(sim, tmp_path_factory)

    # No --server-url: the stored server (the simulator's), never WhatsApp's.
    server = WauseServer(data_dir)
    session, _ = server.initialize()
    poll(lambda: status(server, session)["state"] == "ready", "ready on the stored server", server, session)
    stopped_cleanly(server)

    # Another server: opens, never dials, says why; logout works offline.
    server = WauseServer(data_dir, ["--server-url", "ws://127.0.0.1:1/ws/chat"])
    session, _ = server.initialize()
    current = status(server, session)
    assert current["state"] == "auth_failure", current
    assert sim.ws_url in current["last_error"] and "ws://127.0.0.1:1/ws/chat" in current["last_error"], current
    assert call_tool(server, session, "whatsapp_logout") == {"ok": True, "was_linked": True, "server_confirmed": False}
    stopped_cleanly(server)
