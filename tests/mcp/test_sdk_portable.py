"""wause-mcp driven by the official MCP Python SDK through its version-portable low-level API
(`streamable_http_client` + `ClientSession`), identical under mcp 1.30.0 and mcp 2.3.0.
Runs in BOTH venvs.

Venv layout (see tests/requirements-mcp*.txt): the suite runs once under mcp==2.3.0 and once
under mcp==1.30.0. In each venv this module runs, plus exactly one of test_sdk_v2.py /
test_sdk_v1.py (the other skips at module level). `test_installed_sdk_is_a_tested_major`
FAILS (does not skip) when the installed SDK is neither, so a venv in which no SDK-specific
module ran cannot pass silently; a venv without `mcp` fails at collection here.
"""

from __future__ import annotations

import re

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from conftest import TOKEN
from sdk_common import (
    SDK_MAJOR,
    SDK_VERSION,
    assert_fresh_status,
    assert_invalid_request_result,
    assert_matches_schema,
    assert_status_tool,
    assert_text_block_mirrors,
    error_code,
    field_of,
    recording_http_client,
    run,
)


pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")


def test_installed_sdk_is_a_tested_major():
    assert SDK_MAJOR in ("1", "2"), f"mcp {SDK_VERSION}: neither test_sdk_v1.py nor test_sdk_v2.py runs"
    assert SDK_VERSION in ("1.30.0", "2.3.0"), f"suite pinned to mcp 1.30.0 / 2.3.0, found {SDK_VERSION}"


async def _session_roundtrip(url: str, data_dir: str) -> dict:
    http_client, wire = recording_http_client()
    seen: dict = {}
    async with http_client:
        async with streamable_http_client(url, http_client=http_client) as streams:
            assert len(streams) == (3 if SDK_MAJOR == "1" else 2)  # 1.x adds get_session_id
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                seen["protocol"] = field_of(init, "protocol_version", "protocolVersion")
                info = field_of(init, "server_info", "serverInfo")
                seen["server_name"] = info.name
                seen["instructions"] = init.instructions
                caps = init.capabilities
                seen["tools_cap"] = caps.tools is not None
                seen["logging_cap"] = caps.logging is not None

                tools = await session.list_tools()
                by_name = {tool.name: tool for tool in tools.tools}
                assert "whatsapp_status" in by_name
                assert_status_tool(by_name["whatsapp_status"])
                assert field_of(tools, "next_cursor", "nextCursor") is None
                output_schema = field_of(by_name["whatsapp_status"], "output_schema", "outputSchema")

                result = await session.call_tool("whatsapp_status", {})
                assert field_of(result, "is_error", "isError") is False
                structured = field_of(result, "structured_content", "structuredContent")
                assert_fresh_status(structured, data_dir)
                assert_matches_schema(structured, output_schema)
                assert_text_block_mirrors(result.content, structured)
                seen["plain"] = structured

                progress_events: list = []

                async def on_progress(progress, total, message):
                    progress_events.append((progress, total, message))

                with_progress = await session.call_tool("whatsapp_status", {}, progress_callback=on_progress)
                assert field_of(with_progress, "is_error", "isError") is False
                assert field_of(with_progress, "structured_content", "structuredContent") == structured
                assert_text_block_mirrors(with_progress.content, structured)
                values = [p for p, _, _ in progress_events]
                assert values == sorted(values) and len(set(values)) == len(values)  # strictly increasing

                bad = await session.call_tool("whatsapp_status", {"x": 1})
                assert_invalid_request_result(bad)

                with pytest.raises(Exception) as caught:
                    await session.call_tool("no_such_tool", {})
                assert error_code(caught.value) == -32602

                await session.send_ping()
                await session.set_logging_level("debug")
    seen["wire"] = wire
    return seen


def test_low_level_session(server):
    seen = run(_session_roundtrip, server.url, server.data_dir)
    assert seen["protocol"] == "2025-11-25"
    assert seen["server_name"] == "wause"
    assert seen["instructions"]
    assert seen["tools_cap"] and seen["logging_cap"]

    wire = seen["wire"]
    # The call with a progress callback carried a progressToken and was answered as SSE;
    # the plain calls were answered with one JSON body.
    calls = wire.posts("tools/call")
    assert len(calls) == 4, calls
    streamed = [c for c in calls if c["progress_token"] is not None]
    assert len(streamed) == 1 and streamed[0]["content_type"] == "text/event-stream", calls
    assert all(c["content_type"] == "application/json" for c in calls if c["progress_token"] is None), calls
    # initialize → one session id; the SDK reused it; on exit it DELETEd the session.
    sessions = wire.session_ids()
    assert len(sessions) == 1 and re.fullmatch(r"[0-9a-f]{32}", next(iter(sessions)))
    (initialized,) = wire.posts("notifications/initialized")
    assert initialized["status"] == 202
    deletes = [e for e in wire.entries if e["http_method"] == "DELETE"]
    assert [d["status"] for d in deletes] == [200]
    # ...so the id is dead now.
    assert server.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session=next(iter(sessions))).status == 404


async def _token_roundtrip(url: str, data_dir: str, headers: dict | None) -> str:
    http_client, _ = recording_http_client(headers)
    async with http_client:
        async with streamable_http_client(url, http_client=http_client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                result = await session.call_tool("whatsapp_status", {})
                structured = field_of(result, "structured_content", "structuredContent")
                assert_fresh_status(structured, data_dir)
                return structured["state"]


def test_token_server_with_bearer_header(token_server):
    state = run(_token_roundtrip, token_server.url, token_server.data_dir, {"Authorization": f"Bearer {TOKEN}"})
    assert state == "stopped"


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"])
def test_token_server_refuses_sdk_without_token(token_server, headers):
    mark = token_server.log_mark()
    with pytest.raises(Exception):  # noqa: B017 — 1.x: httpx HTTPStatusError, 2.x: MCPError; in a group
        run(_token_roundtrip, token_server.url, token_server.data_dir, headers)
    token_server.wait_for_log(r"POST /mcp 401\b", since=mark)
