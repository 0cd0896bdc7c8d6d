"""QR linking end to end: a real `wause-mcp` pointed at a real `wause-sim` over real sockets.

An MCP client (raw HTTP through tests/mcp/wause_harness.py, and once the official MCP Python SDK
2.x) calls `whatsapp_start_auth`; the engine dials the simulator, runs the Noise handshake,
receives `pair-device` with 6 refs and shows the first QR (whatsmeow pair.go handlePairDevice, makeQRData; qrchan.go emitQRs). The
QR is checked three ways: the PNG at /qr.png scanned with zxing-cpp, the `pairing.qr` event on
the session's GET stream, and the engine's keys read from its store (DATA_DIR/wause.db).

Then the simulator dies (SIGKILL) and comes back on the same port with the same data dir (so the
same root key): the engine reports the lost link, redials with backoff and shows fresh refs,
without ever giving up linking (DESIGN.md "Connection states": link lost while linking →
`starting`, reconnect).

Nothing sleeps: every wait blocks on the event stream or a process, with a deadline.
"""

from __future__ import annotations

import base64

import pytest

from engine_flows import (
    EventReader, call_tool, engine_keys, open_events, poll, scan_qr_png, status, stopped_cleanly,
)
from sim_process import DEADLINE
from wause_harness import WauseServer

QR_PREFIX = "https://wa.me/settings/linked_devices#"


# --------------------------------------------------------------------------------------------
# Helpers


def qr_fields(qr: str) -> list[str]:
    """The five comma-separated fields after the prefix (whatsmeow pair.go makeQRData)."""
    assert qr.startswith(QR_PREFIX), qr
    fields = qr[len(QR_PREFIX):].split(",")
    assert len(fields) == 5, qr
    return fields


def assert_qr_carries_engine_keys(qr: str, keys: dict[str, bytes]) -> str:
    """Checks the key fields against the store; returns the ref."""
    ref, noise, identity, adv, client_type = qr_fields(qr)
    assert ref, qr
    for text, key in ((noise, "noise"), (identity, "identity"), (adv, "adv")):
        assert len(text) == 44 and text.endswith("="), f"{key}: not standard padded base64 of 32 bytes: {text}"
        assert base64.b64decode(text, validate=True) == keys[key], key
        assert text == base64.b64encode(keys[key]).decode(), key
    assert client_type == "1"
    return ref


@pytest.fixture
def engine(tmp_path_factory):
    """Factory: a wause-mcp pointed at a simulator; stopped (SIGTERM, exit 0) at teardown."""
    started: list[WauseServer] = []

    def make(sim) -> WauseServer:
        server = WauseServer(tmp_path_factory.mktemp("engine"),
                             ["--server-url", sim.ws_url, "--server-root-key", sim.root_public_key])
        started.append(server)
        return server

    yield make
    for server in started:
        if server.returncode is None:
            stopped_cleanly(server)


def start_linking(sim, server: WauseServer) -> tuple[str, EventReader, dict]:
    """initialize, GET stream, whatsapp_start_auth; returns (session, events, first pairing.qr)."""
    session, _ = server.initialize()
    events = open_events(server, session)
    before = status(server, session)
    assert before["state"] == "stopped", before
    # The engine never dials on its own while unpaired (DESIGN.md "Configuration").
    assert sim.admin("GET", "/connections").json() == []

    started = call_tool(server, session, "whatsapp_start_auth")
    assert started["state"] == "qr", started
    assert started["has_qr"] is True
    assert started["ready"] is False and started["authenticated"] is False
    assert started["account"] is None

    qr_event = events.next("pairing.qr")
    assert "account.connected" in events.names_since(0)
    assert "pairing.failed" not in events.names_since(0)
    return session, events, qr_event


# --------------------------------------------------------------------------------------------
# Tests


def test_start_auth_against_the_simulator_shows_a_scannable_qr(make_sim, engine):
    sim = make_sim()
    server = engine(sim)
    session, events, qr_event = start_linking(sim, server)

    data = qr_event["data"]
    assert data["index"] == 1 and data["count"] == 6, data
    assert data["expires_in"] == 60, data  # the first ref lives 60 s (whatsmeow qrchan.go emitQRs)
    keys = engine_keys(server.data_dir)
    assert_qr_carries_engine_keys(data["qr"], keys)

    # What /qr.png shows scans to exactly the string the event carried.
    assert scan_qr_png(server) == data["qr"]

    # The simulator sees one unpaired connection waiting for a scan.
    connections = sim.admin("GET", "/connections").json()
    assert len(connections) == 1, connections
    assert connections[0]["state"] == "pairing" and connections[0]["device"] is None

    # A second start_auth while linking changes nothing: same connection, same code.
    again = call_tool(server, session, "whatsapp_start_auth")
    assert again["state"] == "qr" and again["has_qr"] is True
    assert [c["id"] for c in sim.admin("GET", "/connections").json()] == [connections[0]["id"]]
    assert scan_qr_png(server) == data["qr"]
    events.stream.close()


def test_simulator_killed_and_restarted_while_linking_gives_fresh_refs(make_sim, engine, tmp_path):
    sim_dir = tmp_path / "sim"
    sim = make_sim(sim_dir)
    server = engine(sim)
    session, events, first = start_linking(sim, server)
    keys = engine_keys(server.data_dir)
    first_ref = assert_qr_carries_engine_keys(first["data"]["qr"], keys)

    sim.kill()  # SIGKILL: no goodbye on the socket beyond what the kernel does
    mark = len(events.seen)
    lost = events.next("account.disconnected")
    assert lost["data"]["will_reconnect"] is True, lost
    assert isinstance(lost["data"]["reason"], str) and lost["data"]["reason"], lost
    # Nothing between the QR and the loss (in particular no pairing.failed).
    assert events.names_since(mark) == ["account.disconnected"]

    # With the simulator down the engine is redialing: "starting", and no QR to show. (The
    # event is published just before the state moves, so "qr" may still show for an instant.)
    meanwhile = status(server, session)
    assert meanwhile["state"] in ("starting", "qr"), meanwhile
    meanwhile = poll(lambda: (s := status(server, session))["state"] == "starting" and s,
                     "state 'starting' while the simulator is down", server, session)
    assert meanwhile["has_qr"] is False and meanwhile["ready"] is False, meanwhile
    assert server.request("GET", "/qr.png").status == 404

    restarted = make_sim(sim_dir, port=sim.ws_port)
    assert restarted.ws_url == sim.ws_url
    assert restarted.root_public_key == sim.root_public_key

    mark = len(events.seen)
    second = events.next("pairing.qr")
    between = events.names_since(mark)
    assert "pairing.failed" not in between and "account.disconnected" not in between, between
    assert between[-2:] == ["account.connected", "pairing.qr"], between
    assert second["data"]["index"] == 1 and second["data"]["count"] == 6, second
    second_ref = assert_qr_carries_engine_keys(second["data"]["qr"], keys)  # same device, new refs
    assert second_ref != first_ref

    # The state moves to "qr" before the pairing.qr event is published.
    after = status(server, session)
    assert after["state"] == "qr" and after["has_qr"] is True, after
    assert scan_qr_png(server) == second["data"]["qr"]
    connections = restarted.admin("GET", "/connections").json()
    assert [c["state"] for c in connections] == ["pairing"], connections
    events.stream.close()


def test_start_auth_through_the_official_sdk(make_sim, engine):
    """The same flow driven by the MCP Python SDK 2.x client (`mcp.Client`), as an agent would."""
    try:
        from importlib.metadata import version

        sdk_version = version("mcp")
    except Exception:  # noqa: BLE001
        pytest.skip("the mcp SDK is not installed")
    if sdk_version.split(".")[0] != "2":
        pytest.skip(f"mcp {sdk_version} installed: this test uses the 2.x client")
    import anyio
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    sim = make_sim()
    server = engine(sim)

    async def link() -> tuple[dict, dict]:
        async with create_mcp_http_client() as http_client:
            async with Client(streamable_http_client(server.url, http_client=http_client), mode="legacy") as client:
                started = await client.call_tool("whatsapp_start_auth", {})
                assert started.is_error is False
                current = await client.call_tool("whatsapp_status", {})
                assert current.is_error is False
                return started.structured_content, current.structured_content

    async def bounded():
        with anyio.fail_after(DEADLINE * 2):
            return await link()

    started, current = anyio.run(bounded)
    assert started["state"] == "qr" and started["has_qr"] is True, started
    assert current["state"] == "qr", current
    assert_qr_carries_engine_keys(scan_qr_png(server), engine_keys(server.data_dir))
    assert [c["state"] for c in sim.admin("GET", "/connections").json()] == ["pairing"]
