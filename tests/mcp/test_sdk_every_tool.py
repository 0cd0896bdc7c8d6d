"""Every tool through the official MCP SDK, with real messages present (issue 11).

`ClientSession.call_tool` of both SDKs (mcp 2.3.0 and 1.30.0) validates a result's
`structuredContent` against the tool's `outputSchema` from `tools/list` and raises "Invalid
structured content returned by tool" when it does not match (MCP 2025-11-25 server/tools.mdx
"Output Schema": "Clients SHOULD validate structured results against this schema"). The raw-HTTP
suites never do, which is how `whatsapp_wait_for_message` shipped a message field
(`identity_changed`) that its schema forbids. So this module links a real wause-mcp to a virtual
phone of a real wause-sim, makes messages flow both ways, and then calls EVERY listed tool with
valid arguments through the SDK; each result is also checked against the full schema that
`whatsapp_get_tool_info` gives (tools/list shows the compact one).

Runs in both venvs. Needs wause-sim ($WAUSE_SIM, default this checkout's .build/debug/wause-sim).
Waits poll a tool under the deadline (WAUSE_TEST_DEADLINE); nothing asserts on timing.
"""

from __future__ import annotations

import os
import pathlib
import sys

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from sdk_common import assert_matches_schema, field_of, recording_http_client, run
from wause_harness import DEADLINE, WauseServer

# tests/sim/sim_process.py starts and stops the simulator (stdlib only, shared by the suites).
_SIM_DIR = pathlib.Path(__file__).resolve().parent.parent / "sim"
if str(_SIM_DIR) not in sys.path:
    sys.path.insert(0, str(_SIM_DIR))
from sim_process import SIM_BINARY, SimProcess  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")

ADA, CAROL = "15550001111", "15550003333"

# Destructive tools go last, in this order; every other tool runs before them in list order.
LAST = ["whatsapp_logout", "whatsapp_unlink"]


@pytest.fixture
def linked_setup(tmp_path_factory):
    if not os.access(SIM_BINARY, os.X_OK):
        pytest.fail(f"wause-sim binary not found or not executable: {SIM_BINARY} (set WAUSE_SIM)")
    sim = SimProcess(tmp_path_factory.mktemp("sim"))
    server = None
    try:
        for phone, name in ((ADA, "Ada"), (CAROL, "Carol")):
            created = sim.admin("POST", "/accounts", {"phone": phone, "push_name": name})
            assert created.status == 201, created
        # A file to send, in the one directory files may be sent from; the sim's media host trusted.
        media_dir = tmp_path_factory.mktemp("outbox-media")
        MEDIA_FILE["path"] = str(media_dir / "notes.pdf")
        with open(MEDIA_FILE["path"], "wb") as handle:
            handle.write(b"%PDF-1.4\n" + os.urandom(5000))
        # Every toolset, so that every tool the server has is listed and called.
        server = WauseServer(tmp_path_factory.mktemp("engine"),
                             ["--server-url", sim.ws_url, "--server-root-key", sim.root_public_key, "--toolsets", "all",
                              "--media-ca-file", sim.media_ca_file, "--media-dirs", str(media_dir)])
        yield sim, server
    finally:
        if server is not None:
            server.stop()
        sim.stop()


GROUP = "SDK group"
# The file whatsapp_send_file sends (written by linked_setup).
MEDIA_FILE: dict = {}


def arguments_for(name: str, input_schema: dict, sent_id: str | None, results: dict) -> dict:
    """Valid arguments for each tool; a tool without an entry must take no required argument.
    The group tools run in list order: create first, leave last; join previews the link the
    invite-link tool returned."""
    link = results.get("whatsapp_get_group_invite_link", {}).get("invite_link")
    table = {
        "whatsapp_create_group": {"name": GROUP, "participants": [CAROL]},
        "whatsapp_get_group_info": {"group": GROUP},
        "whatsapp_update_group_participants": {"group": GROUP, "action": "promote", "participants": [CAROL]},
        "whatsapp_set_group_name": {"group": GROUP, "name": GROUP},
        "whatsapp_set_group_topic": {"group": GROUP, "topic": "every tool"},
        "whatsapp_get_group_invite_link": {"group": GROUP},
        "whatsapp_join_group": {"invite": link or "", "preview_only": True},
        "whatsapp_leave_group": {"group": GROUP},
        "whatsapp_get_tool_info": {"tool": "whatsapp_send_message"},
        "whatsapp_pairing_code": {"phone_number": "+" + ADA},
        "whatsapp_send_message": {"phone_number": CAROL, "message": "hello again carol"},
        "whatsapp_message_status": {"message_id": sent_id},
        "whatsapp_mark_read": {"chat": CAROL},
        "whatsapp_list_chats": {"limit": 20},
        "whatsapp_read_messages": {"phone_number": CAROL, "limit": 10},
        "whatsapp_list_messages": {"to": CAROL},
        "whatsapp_search_messages": {"query": "carol"},
        "whatsapp_sync": {"cursor": 0},
        # From the start of the log: the message Carol's phone sent is there.
        "whatsapp_wait_for_message": {"timeout": 5, "after_cursor": 0},
        "whatsapp_unlink": {"clear_data": False},
        # Issue 14, in catalogue order after whatsapp_send_message: react to the first message, edit and then
        # revoke the second (so read_messages above still sees "hello carol"), a poll to Carol and its results.
        "whatsapp_react_to_message": {"message_id": sent_id, "emoji": "👍"},
        "whatsapp_edit_message": {"message_id": results.get("whatsapp_send_message", {}).get("message_id"),
                                  "new_text": "hello again carol (edited)"},
        "whatsapp_delete_message": {"message_id": results.get("whatsapp_send_message", {}).get("message_id"), "scope": "everyone"},
        "whatsapp_create_poll": {"to": CAROL, "question": "Every tool?", "options": ["yes", "no"]},
        "whatsapp_get_poll_results": {"message_id": results.get("whatsapp_create_poll", {}).get("message_id")},
        "whatsapp_send_file": {"to": CAROL, "file_path": MEDIA_FILE.get("path", ""), "caption": "every tool"},
        "whatsapp_send_location": {"to": CAROL, "latitude": 52.52, "longitude": 13.405, "name": "Berlin"},
        "whatsapp_send_contact_card": {"to": CAROL, "contacts": [{"name": "Dora", "phone": "+15550009999"}]},
        # Our own sent file: answered from the engine's copy.
        "whatsapp_download_media": {"message_id": results.get("whatsapp_send_file", {}).get("message_id", "")},
        # Carol's phone never answers: the request stays pending for check_approvals (listed after it).
        "whatsapp_request_approval": {"to": CAROL, "action": "every tool"},
        # Issue 15: chat settings sent as app-state patches (the phone shared its key first, below).
        "whatsapp_archive_chat": {"chat": CAROL},
        "whatsapp_pin_chat": {"chat": CAROL},
        "whatsapp_mute_chat": {"chat": CAROL, "duration": "8h"},
        "whatsapp_star_message": {"message_id": sent_id},
        "whatsapp_mark_chat_unread": {"chat": CAROL},
        "whatsapp_clear_chat": {"chat": CAROL},
        "whatsapp_delete_chat": {"chat": CAROL},
    }
    if name in table:
        return table[name]
    assert not input_schema.get("required"), f"{name} takes required arguments: add them to arguments_for"
    return {}


async def _every_tool(server: WauseServer, sim: SimProcess) -> dict:
    http_client, _ = recording_http_client()
    results: dict = {}
    async with http_client:
        async with streamable_http_client(server.url, http_client=http_client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()

                async def call(name: str, arguments: dict) -> dict:
                    # The SDK validates structuredContent against the listed outputSchema here.
                    result = await session.call_tool(name, arguments)
                    structured = field_of(result, "structured_content", "structuredContent")
                    assert field_of(result, "is_error", "isError") is False, (name, result.content)
                    return structured

                async def until(what: str, predicate):
                    with anyio.fail_after(DEADLINE):
                        while True:
                            value = await predicate()
                            if value:
                                return value
                            await anyio.sleep(0.05)

                # Link by QR: the phone scans the text start_auth returned.
                started = await call("whatsapp_start_auth", {})
                assert started["state"] == "qr" and started["qr"], started
                scanned = sim.admin("POST", f"/accounts/{ADA}/scan", {"qr": started["qr"]})
                assert scanned.status == 200, scanned

                async def ready():
                    return (await call("whatsapp_status", {}))["state"] == "ready"

                await until("ready", ready)

                # Messages both ways: engine → Carol's phone, Carol's phone → engine.
                sent = await call("whatsapp_send_message", {"phone_number": CAROL, "message": "hello carol"})
                posted = sim.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "hi from carol"})
                assert posted.status == 200, posted

                async def arrived():
                    found = await call("whatsapp_search_messages", {"query": "\"hi from carol\""})
                    return found["count"] > 0

                await until("Carol's message", arrived)

                # The phone's first app-state change shares its key with the engine (a pinned chat shows it).
                changed = sim.admin("POST", f"/accounts/{ADA}/app-state", {"action": "pin", "chat": "15550009999"})
                assert changed.status == 200, changed

                async def key_shared():
                    chats = (await call("whatsapp_list_chats", {"limit": 50}))["chats"]
                    return any(chat["id"] == "15550009999@s.whatsapp.net" and chat["pinned"] for chat in chats)

                await until("the phone's app-state key", key_shared)

                tools = (await session.list_tools()).tools
                names = [tool.name for tool in tools]
                ordered = [t for t in tools if t.name not in LAST] + [t for t in tools if t.name in LAST]
                for tool in ordered:
                    input_schema = field_of(tool, "input_schema", "inputSchema")
                    arguments = arguments_for(tool.name, input_schema, sent["message_id"], results)
                    results[tool.name] = await call(tool.name, arguments)
                    info = await call("whatsapp_get_tool_info", {"tool": tool.name})
                    # The full schema too (tools/list carries the compact one).
                    assert_matches_schema(results[tool.name], info["output_schema"])
                    assert_matches_schema(results[tool.name], field_of(tool, "output_schema", "outputSchema"))
                results["_names"] = names
    return results


def test_every_tool_through_the_sdk_with_real_messages(linked_setup):
    sim, server = linked_setup
    results = run(_every_tool, server, sim)
    names = results.pop("_names")
    assert set(results) == set(names), set(names) - set(results)
    # The message from Carol's phone, as wait_for_message returned it (with identity_changed).
    waited = results["whatsapp_wait_for_message"]
    assert waited["timed_out"] is False and waited["message"]["body"] == "hi from carol", waited
    assert "identity_changed" in waited["message"], waited
    bodies = {m["body"] for m in results["whatsapp_read_messages"]["messages"]}
    assert {"hello carol", "hi from carol"} <= bodies, bodies
    assert results["whatsapp_pairing_code"]["already_authenticated"] is True
    asked = results["whatsapp_request_approval"]
    assert asked["status"] == "pending", asked
    assert [a["request_id"] for a in results["whatsapp_check_approvals"]["approvals"]] == [asked["request_id"]]
    assert results["whatsapp_logout"]["ok"] is True
    # The group tools on a real group: made with Carol's phone in it, previewed by its link, left last.
    assert results["whatsapp_create_group"]["participants"][0]["status"] == "added", results["whatsapp_create_group"]
    assert len(results["whatsapp_get_group_info"]["participants"]) == 2
    assert results["whatsapp_join_group"]["joined"] is False and results["whatsapp_join_group"]["name"] == GROUP
    assert results["whatsapp_leave_group"]["ok"] is True
