"""wause-mcp's shutdown flushes the outbox, as the bindings' close() does (issue 11, item 2).

On SIGINT/SIGTERM wause-mcp closes its client with `close_timeout_ms`: a message still queued for a
reachable contact goes out before the process exits, and one info line says how many went and how
many were left queued.

The message is made to be queued at the signal with nothing in flight: it is stored while the
server is down by a wause-mcp that is then killed (the store keeps it, DESIGN.md "persist before
acknowledging"); a second wause-mcp opens that store while the server is still down, gets the
signal, and only then does the server come back. Only a shutdown that waits for the outbox can
deliver it; one that closes at once leaves it queued.

Needs wause-sim ($WAUSE_SIM, default this checkout's .build/debug/wause-sim). Runs in both venvs
(standard library only). Nothing sleeps: every wait blocks on a log line, a process exit, or
polls a state under the deadline.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sqlite3
import sys
import threading

import pytest

from wause_harness import DEADLINE

# tests/sim holds the simulator process and the engine flows (stdlib only, shared by the suites).
_SIM_DIR = pathlib.Path(__file__).resolve().parent.parent / "sim"
if str(_SIM_DIR) not in sys.path:
    sys.path.insert(0, str(_SIM_DIR))
from engine_flows import call_tool, create_account, inbox, linked_engine, start_engine, wait_until  # noqa: E402
from sim_process import SIM_BINARY, SimProcess  # noqa: E402

ADA, CAROL = "15550001111", "15550003333"
TEXT = "sent on the way out"
# Long enough for a reconnect after a few backoff rounds (1, 2, 4 s ±25 %); the test never waits it out.
CLOSE_TIMEOUT_MS = 60000


def queued(data_dir: str) -> int:
    db = sqlite3.connect(f"file:{data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def sims(tmp_path):
    """Simulators on one data dir (the second on the first one's port); SIGTERM at teardown."""
    started: list[SimProcess] = []

    def make(**kwargs) -> SimProcess:
        if not os.access(SIM_BINARY, os.X_OK):
            pytest.fail(f"wause-sim binary not found or not executable: {SIM_BINARY} (set WAUSE_SIM)")
        sim = SimProcess(tmp_path / "sim", **kwargs)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        if sim.returncode is None and sim.alive():
            sim.stop()


def test_shutdown_sends_a_queued_message_before_exiting_and_logs_it(sims, tmp_path_factory):
    sim = sims()
    create_account(sim, ADA, "Ada")
    create_account(sim, CAROL, "Carol")
    server, session, _ = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    data_dir = server.data_dir

    # The server goes away; a send is stored (queued) and its sender dies before it could go.
    sim.kill()
    wait_until(lambda: call_tool(server, session, "whatsapp_status")["state"] != "ready", "the link seen down")

    def send() -> None:
        try:
            call_tool(server, session, "whatsapp_send_message", {"phone_number": CAROL, "message": TEXT})
        except Exception:  # noqa: BLE001 - the process is killed under the call on purpose
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    wait_until(lambda: queued(data_dir) == 1, "the message stored in the outbox")
    server.kill()
    sender.join(timeout=DEADLINE)

    # A new wause-mcp on that store, the server still down: the message waits in its outbox.
    restarted = start_engine(tmp_path_factory, sim, data_dir=data_dir,
                             extra=["--close-timeout-ms", str(CLOSE_TIMEOUT_MS)])
    mark = restarted.log_mark()
    restarted.wait_for_log(r"reconnecting in ", since=mark)
    restarted.proc.send_signal(signal.SIGTERM)
    restarted.wait_for_log(r"received signal .*shutting down", since=mark)
    assert restarted.alive(), "wause-mcp exited without waiting for its outbox\n" + "".join(restarted.log_lines[mark:])

    # The server returns (same data, same port): the engine reconnects, sends, and only then exits.
    back = sims(port=sim.ws_port)
    code = restarted.stop(timeout=CLOSE_TIMEOUT_MS / 1000 + DEADLINE)
    log = "".join(restarted.log_lines[mark:])
    assert code == 0, log
    line = restarted.wait_for_log(r"outbox at exit:", since=mark)
    assert " INFO " in line, line
    assert f"outbox at exit: 1 queued message(s) sent, 0 left queued (close_timeout_ms {CLOSE_TIMEOUT_MS})" in line, line
    assert queued(data_dir) == 0
    # Carol's phone has it: sent before the exit, not left for the next start.
    delivered = [entry for entry in inbox(back, CAROL)["messages"] if entry["text"] == TEXT]
    assert len(delivered) == 1, delivered
