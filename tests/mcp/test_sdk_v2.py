"""wause-mcp driven by the high-level client of the MCP Python SDK 2.x (`mcp.Client`), in
mode="auto" (probes server/discover, falls back to initialize) and mode="legacy".

Runs only under mcp 2.x (the mcp==2.3.0 venv); skips as a whole under 1.x, where
test_sdk_v1.py runs instead (see test_sdk_portable.py for the venv layout).
"""

from __future__ import annotations

import pytest

from sdk_common import SDK_MAJOR, SDK_VERSION

if SDK_MAJOR != "2":
    pytest.skip(f"mcp {SDK_VERSION} installed: test_sdk_v2.py needs mcp 2.x", allow_module_level=True)

from mcp import Client, MCPError  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from conftest import TOKEN  # noqa: E402
from sdk_common import (  # noqa: E402
    assert_fresh_status,
    assert_invalid_request_result,
    assert_matches_schema,
    assert_status_tool,
    assert_text_block_mirrors,
    recording_http_client,
    run,
)

pytestmark = [
    # Handshake-era features the 2.x client flags as removed in 2026-07-28; wause speaks 2025-11-25.
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
    pytest.mark.filterwarnings("ignore:ping is removed"),
]

MODES = ["auto", "legacy"]


async def _full_client_session(url: str, data_dir: str, mode: str) -> dict:
    http_client, wire = recording_http_client()
    seen: dict = {"wire": wire}
    async with http_client:
        async with Client(streamable_http_client(url, http_client=http_client), mode=mode) as client:
            seen["protocol"] = client.protocol_version
            seen["server_info"] = client.server_info
            seen["instructions"] = client.instructions
            seen["capabilities"] = client.server_capabilities
            seen["initialize_result"] = client.session.initialize_result
            seen["discover_result"] = client.session.discover_result

            tools = await client.list_tools()
            by_name = {tool.name: tool for tool in tools.tools}
            assert "whatsapp_status" in by_name
            status_tool = by_name["whatsapp_status"]
            assert_status_tool(status_tool)
            assert status_tool.annotations.read_only_hint is True
            assert tools.next_cursor is None

            result = await client.call_tool("whatsapp_status", {})
            assert result.is_error is False
            assert_fresh_status(result.structured_content, data_dir)
            assert_matches_schema(result.structured_content, status_tool.output_schema)
            assert_text_block_mirrors(result.content, result.structured_content)
            seen["plain"] = result.structured_content

            progress_events: list = []

            async def on_progress(progress, total, message):
                progress_events.append((progress, total, message))

            with_progress = await client.call_tool("whatsapp_status", {}, progress_callback=on_progress)
            assert with_progress.is_error is False
            assert with_progress.structured_content == result.structured_content
            assert_text_block_mirrors(with_progress.content, with_progress.structured_content)
            values = [p for p, _, _ in progress_events]
            assert values == sorted(values) and len(set(values)) == len(values)

            bad = await client.call_tool("whatsapp_status", {"x": 1})
            assert_invalid_request_result(bad)
            assert bad.structured_content is None

            with pytest.raises(MCPError) as unknown:
                await client.call_tool("no_such_tool", {})
            assert unknown.value.code == -32602

            with pytest.raises(MCPError) as bad_cursor:
                await client.list_tools(cursor="not-a-cursor")
            assert bad_cursor.value.code == -32602

            await client.send_ping()
            await client.set_logging_level("warning")
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_client(server, mode):
    mark = server.log_mark()
    seen = run(_full_client_session, server.url, server.data_dir, mode)
    assert seen["protocol"] == "2025-11-25"
    # A handshake-era server: both modes end on the initialize handshake, never the modern era.
    assert seen["initialize_result"] is not None
    assert seen["discover_result"] is None
    assert seen["server_info"].name == "wause" and seen["server_info"].version
    assert seen["instructions"]
    assert seen["capabilities"].tools is not None
    assert seen["capabilities"].logging is not None

    wire = seen["wire"]
    discover = wire.posts("server/discover")
    if mode == "auto":
        # The probe was refused with a JSON-RPC error body (the client fell back on it).
        assert len(discover) == 1 and discover[0]["status"] in (200, 400, 404), discover
        assert discover[0]["content_type"] == "application/json"
        server.wait_for_log(r"POST /mcp 4\d\d .*protocol=2026-07-28|rpc=server/discover", since=mark)
    else:
        assert discover == []
    calls = wire.posts("tools/call")
    streamed = [c for c in calls if c["progress_token"] is not None]
    assert len(streamed) == 1 and streamed[0]["content_type"] == "text/event-stream", calls
    assert all(c["content_type"] == "application/json" for c in calls if c["progress_token"] is None), calls
    # The GET stream the client opens after notifications/initialized was accepted as SSE.
    gets = [e for e in wire.entries if e["http_method"] == "GET"]
    assert all(g["status"] == 200 and g["content_type"] == "text/event-stream" for g in gets), gets
    deletes = [e for e in wire.entries if e["http_method"] == "DELETE"]
    assert [d["status"] for d in deletes] == [200]


async def _url_client(url: str, data_dir: str, mode: str) -> dict:
    # The plain-URL form from the SDK README (the client builds its own HTTP client).
    async with Client(url, mode=mode) as client:
        result = await client.call_tool("whatsapp_status", {})
        assert result.is_error is False
        assert_fresh_status(result.structured_content, data_dir)
        return {"protocol": client.protocol_version}


@pytest.mark.parametrize("mode", MODES)
def test_client_from_url(server, mode):
    assert run(_url_client, server.url, server.data_dir, mode)["protocol"] == "2025-11-25"


async def _two_clients_at_once(url: str, data_dir: str) -> None:
    async with Client(url, mode="legacy") as first, Client(url, mode="auto") as second:
        a = await first.call_tool("whatsapp_status", {})
        b = await second.call_tool("whatsapp_status", {})
        assert a.structured_content == b.structured_content
        assert_fresh_status(a.structured_content, data_dir)


def test_two_clients_at_once(server):
    run(_two_clients_at_once, server.url, server.data_dir)


async def _token_client(url: str, data_dir: str, mode: str, headers: dict | None) -> None:
    http_client, _ = recording_http_client(headers)
    async with http_client:
        async with Client(streamable_http_client(url, http_client=http_client), mode=mode) as client:
            result = await client.call_tool("whatsapp_status", {})
            assert_fresh_status(result.structured_content, data_dir)


@pytest.mark.parametrize("mode", MODES)
def test_token_server_with_bearer(token_server, mode):
    run(_token_client, token_server.url, token_server.data_dir, mode, {"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize("mode", MODES)
def test_token_server_without_bearer_fails(token_server, mode):
    with pytest.raises(Exception):  # noqa: B017 — MCPError inside an ExceptionGroup
        run(_token_client, token_server.url, token_server.data_dir, mode, None)
    with pytest.raises(Exception):  # noqa: B017
        run(_url_client, token_server.url, token_server.data_dir, mode)
