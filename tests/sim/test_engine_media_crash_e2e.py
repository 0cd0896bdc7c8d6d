"""A crash mid-upload sends once (issue 13: "kill -9 during an upload, restart — the message
arrives once"), through the real binaries: `wause-mcp` starts a send_file while the sim's media
host holds the upload open (`POST /media/faults {hold: true}`, tests/sim/README.md); once the sim
says the upload began, the engine gets SIGKILL; restarted on the same data directory, it uploads
again from its outbox (the queued message and its encrypted copy were persisted before the
upload) and the phone's inbox shows the file exactly once, its sha256 verified by the phone.

Waits block on the event stream or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

import hashlib
import os
import threading

from engine_flows import call_tool, create_account, link_by_qr, open_events, start_engine, wait_ready, wait_until

ADA, BEA = "15558890001", "15558890002"


def test_sigkill_during_an_upload_sends_the_file_once(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    outbox = tmp_path_factory.mktemp("outbox-media")
    extra = ["--toolsets", "core,media", "--media-ca-file", sim.media_ca_file, "--media-dirs", str(outbox)]
    server = start_engine(tmp_path_factory, sim, extra=extra)
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)

    def inbox() -> list[dict]:
        return sim.admin("GET", f"/accounts/{BEA}/inbox").json()["messages"]

    held = sim.admin("POST", "/media/faults", {"hold": True})
    assert held.status == 200 and held.json()["pending"] == 1, held
    document = b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024)
    digest = hashlib.sha256(document).hexdigest()
    (outbox / "report.pdf").write_bytes(document)

    # send_file waits for the ack, which the held upload never lets come: it runs on a thread and
    # ends with the engine.
    answers: list = []
    sender = threading.Thread(target=lambda: answers.append(_send_quietly(server, session, outbox / "report.pdf")), daemon=True)
    sender.start()
    wait_until(lambda: sim.admin("GET", "/media/faults").json()["holding"] == 1, "the sim holds the engine's upload")
    server.kill()
    sender.join()
    assert not inbox(), "nothing reached the phone before the crash"

    # The same data directory: the outbox resumes the queued file. The held upload is let go (the
    # sim drops it; its client is dead anyway) and later uploads pass.
    released = sim.admin("DELETE", "/media/faults")
    assert released.status == 200 and released.json()["holding"] == 0, released
    server = start_engine(tmp_path_factory, sim, data_dir=server.data_dir, extra=extra)
    session, _ = server.initialize()
    row = wait_until(lambda: next((m for m in inbox() if (m.get("media") or {}).get("sha256") == digest), None),
                     "Bea's phone got the file after the restart")
    assert row["media"]["file_name"] == "report.pdf", row

    # A text sent after it arrives after it (one outbox, in order): by then a second copy would show.
    later = call_tool(server, session, "whatsapp_send_message", {"to": BEA, "message": "after the crash"})
    wait_until(lambda: any(m["id"] == later["message_id"] for m in inbox()), "the later text arrived")
    copies = [m for m in inbox() if (m.get("media") or {}).get("sha256") == digest]
    assert len(copies) == 1, copies
    assert sim.admin("GET", "/media/faults").json()["uploads_begun"] == 2
    listed = call_tool(server, session, "whatsapp_list_messages", {"chat": BEA})
    mine = [m for m in listed["messages"] if m.get("type") == "document"]
    assert len(mine) == 1 and mine[0]["id"] == row["id"] and mine[0]["status"] in ("sent", "delivered", "read"), mine


def _send_quietly(server, session, path):
    try:
        return server.rpc(session, "tools/call", {"name": "whatsapp_send_file", "arguments": {"to": BEA, "file_path": str(path)}})
    except Exception as error:  # the engine was killed under the call
        return error
