"""wause-mcp driven by the MCP Python SDK 1.x (1.30.0): its own API surface — the 3-tuple
transport with `get_session_id`, the deprecated `streamablehttp_client(url, headers=...)`,
`McpError`, camelCase models.

Runs only under mcp 1.x (the mcp==1.30.0 venv); skips as a whole under 2.x, where
test_sdk_v2.py runs instead (see test_sdk_portable.py for the venv layout).
"""

from __future__ import annotations

import re
import warnings

import pytest

from sdk_common import SDK_MAJOR, SDK_VERSION

if SDK_MAJOR != "1":
    pytest.skip(f"mcp {SDK_VERSION} installed: test_sdk_v1.py needs mcp 1.x", allow_module_level=True)

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

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


async def _three_tuple_session(url: str, data_dir: str) -> dict:
    http_client, wire = recording_http_client()
    seen: dict = {"wire": wire}
    async with http_client:
        async with streamable_http_client(url, http_client=http_client) as (read, write, get_session_id):
            assert get_session_id() is None
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                seen["protocol"] = init.protocolVersion
                seen["session_id"] = get_session_id()
                assert init.serverInfo.name == "wause"
                assert init.capabilities.tools is not None and init.capabilities.logging is not None

                tools = await session.list_tools()
                status_tool = next(t for t in tools.tools if t.name == "whatsapp_status")
                assert_status_tool(status_tool)
                assert status_tool.annotations.readOnlyHint is True
                assert tools.nextCursor is None

                result = await session.call_tool("whatsapp_status", {})
                assert result.isError is False
                assert_fresh_status(result.structuredContent, data_dir)
                assert_matches_schema(result.structuredContent, status_tool.outputSchema)
                assert_text_block_mirrors(result.content, result.structuredContent)

                events: list = []

                async def on_progress(progress, total, message):
                    events.append(progress)

                again = await session.call_tool("whatsapp_status", {}, progress_callback=on_progress)
                assert again.isError is False and again.structuredContent == result.structuredContent
                assert events == sorted(events)

                bad = await session.call_tool("whatsapp_status", {"x": 1})
                assert_invalid_request_result(bad)

                with pytest.raises(McpError) as unknown:
                    await session.call_tool("no_such_tool", {})
                assert unknown.value.error.code == -32602

                with pytest.raises(McpError) as bad_cursor:
                    await session.list_tools(cursor="not-a-cursor")
                assert bad_cursor.value.error.code == -32602

                await session.send_ping()
                await session.set_logging_level("error")
    return seen


def test_three_tuple_session(server):
    seen = run(_three_tuple_session, server.url, server.data_dir)
    assert seen["protocol"] == "2025-11-25"
    session_id = seen["session_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)
    wire = seen["wire"]
    assert wire.session_ids() == {session_id}
    calls = wire.posts("tools/call")
    streamed = [c for c in calls if c["progress_token"] is not None]
    assert len(streamed) == 1 and streamed[0]["content_type"] == "text/event-stream", calls
    # terminate_on_close: the client DELETEd the session, so it is gone.
    assert [e["status"] for e in wire.entries if e["http_method"] == "DELETE"] == [200]
    assert server.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session=session_id).status == 404


async def _deprecated_api(url: str, data_dir: str, headers: dict | None) -> str:
    from mcp.client.streamable_http import streamablehttp_client

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        transport = streamablehttp_client(url, headers=headers)
    async with transport as (read, write, _get_session_id):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("whatsapp_status", {})
            assert_fresh_status(result.structuredContent, data_dir)
            return result.structuredContent["state"]


def test_deprecated_streamablehttp_client(server):
    assert run(_deprecated_api, server.url, server.data_dir, None) == "stopped"


def test_deprecated_streamablehttp_client_with_token(token_server):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert run(_deprecated_api, token_server.url, token_server.data_dir, headers) == "stopped"


def test_deprecated_streamablehttp_client_without_token_fails(token_server):
    with pytest.raises(Exception):  # noqa: B017 — httpx HTTPStatusError(401) inside an ExceptionGroup
        run(_deprecated_api, token_server.url, token_server.data_dir, None)
