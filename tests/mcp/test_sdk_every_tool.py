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

import datetime
import json
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
# The account tools answer only with --accounts-dir (here, single-account, they are refused):
# test_accounts.py calls each through a wause-mcp serving several accounts.
ACCOUNT_TOOLS = {"whatsapp_list_accounts", "whatsapp_add_account", "whatsapp_get_account", "whatsapp_get_account_status",
                 "whatsapp_reconnect_account", "whatsapp_logout_account", "whatsapp_delete_account"}


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
                              # whatsapp_set_presence needs a push name (WhatsApp refuses presence without one).
                              "--push-name", "Ada",
                              "--media-ca-file", sim.media_ca_file, "--media-dirs", str(media_dir)])
        yield sim, server
    finally:
        if server is not None:
            server.stop()
        sim.stop()


GROUP = "SDK group"
# The file whatsapp_send_file sends (written by linked_setup).
MEDIA_FILE: dict = {}
# Issue 16: a message scheduled far ahead (for whatsapp_cancel_scheduled) and one that failed (to a number
# not on WhatsApp, for whatsapp_retry_message), made before the tools are called.
DELIVERY: dict = {}


def next_month() -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


def arguments_for(name: str, input_schema: dict, sent_id: str | None, results: dict) -> dict:
    """Valid arguments for each tool; a tool without an entry must take no required argument.
    The group tools run in list order: create first, leave last; join previews the link the
    invite-link tool returned."""
    link = results.get("whatsapp_get_group_invite_link", {}).get("invite_link")
    webhook = results.get("whatsapp_add_webhook", {}).get("webhook", {}).get("id")
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
        "whatsapp_list_chats": {"limit": 20, "groups_only": False},
        "whatsapp_read_messages": {"phone_number": CAROL, "limit": 10},
        "whatsapp_list_messages": {"to": CAROL, "after": "2020-01-01T00:00:00Z", "include_context": True},
        "whatsapp_search_messages": {"query": "carol", "include_context": True},
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
        # Issue 14's agent helpers, with their new arguments (listed results checked in test_agent_helpers below).
        "whatsapp_get_message": {"message_id": sent_id},
        "whatsapp_catch_up": {"since": "24h"},
        "whatsapp_export_chat": {"chat": CAROL, "format": "csv"},
        "whatsapp_reconnect": {"timeout": 60},
        # Contacts and presence (issue 14): Carol is on the sim, the second number is not.
        "whatsapp_search_contacts": {"query": "carol", "include_chats": True},
        "whatsapp_set_contact_name": {"contact": CAROL, "name": "Carol C."},
        "whatsapp_get_user_info": {"phones": [CAROL]},
        "whatsapp_is_on_whatsapp": {"phones": [CAROL, "15559999999"]},
        "whatsapp_get_profile_picture": {"target": CAROL},
        "whatsapp_set_presence": {"state": "available"},
        "whatsapp_send_typing": {"to": CAROL, "state": "composing"},
        "whatsapp_subscribe_presence": {"contact": CAROL},
        # Our phone (the sim's) answers from what it sent and received with Carol.
        "whatsapp_request_history": {"chat": CAROL, "count": 5},
        # Issue 15: chat settings sent as app-state patches (the phone shared its key first, below).
        "whatsapp_archive_chat": {"chat": CAROL},
        "whatsapp_pin_chat": {"chat": CAROL},
        "whatsapp_mute_chat": {"chat": CAROL, "duration": "8h"},
        "whatsapp_star_message": {"message_id": sent_id},
        "whatsapp_mark_chat_unread": {"chat": CAROL},
        "whatsapp_clear_chat": {"chat": CAROL},
        "whatsapp_delete_chat": {"chat": CAROL},
        # Issue 16: a webhook on a loopback port nothing listens on (its deliveries are refused and
        # retried), changed, tested and deleted, in list order.
        "whatsapp_add_webhook": {"url": "http://127.0.0.1:9/hook", "events": ["message."]},
        "whatsapp_update_webhook": {"webhook": webhook, "enabled": False},
        "whatsapp_test_webhook": {"webhook": webhook},
        "whatsapp_delete_webhook": {"webhook": webhook},
        # Issue 16, in catalogue order: cancel the scheduled one, a bulk job to Carol (who wrote to us), retry the failed one.
        "whatsapp_cancel_scheduled": {"message_id": DELIVERY.get("scheduled", "")},
        "whatsapp_send_bulk": {"items": [{"to": CAROL, "message": "bulk: every tool"}], "idempotency_key": "every-tool"},
        "whatsapp_get_bulk_status": {"job_id": results.get("whatsapp_send_bulk", {}).get("job_id", "")},
        "whatsapp_cancel_bulk": {"job_id": results.get("whatsapp_send_bulk", {}).get("job_id", "")},
        "whatsapp_retry_message": {"message_id": DELIVERY.get("failed", "")},
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

                scheduled = await call("whatsapp_send_message", {"phone_number": CAROL, "message": "next year",
                                                                 "send_at": next_month()})
                DELIVERY["scheduled"] = scheduled["message_id"]
                refused = await session.call_tool("whatsapp_send_message", {"phone_number": "15559999999", "message": "nobody"})
                assert field_of(refused, "is_error", "isError") is True, refused
                DELIVERY["failed"] = json.loads(refused.content[0].text)["details"]["message_id"]

                tools = (await session.list_tools()).tools
                names = [tool.name for tool in tools]
                assert ACCOUNT_TOOLS <= set(names)
                tools = [t for t in tools if t.name not in ACCOUNT_TOOLS]
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
    assert set(results) == set(names) - ACCOUNT_TOOLS, set(names) - ACCOUNT_TOOLS - set(results)
    # The message from Carol's phone, as wait_for_message returned it (with identity_changed).
    waited = results["whatsapp_wait_for_message"]
    assert waited["timed_out"] is False and waited["message"]["body"] == "hi from carol", waited
    assert "identity_changed" in waited["message"], waited
    bodies = {m["body"] for m in results["whatsapp_read_messages"]["messages"]}
    assert {"hello carol", "hi from carol"} <= bodies, bodies
    assert results["whatsapp_pairing_code"]["already_authenticated"] is True
    history = results["whatsapp_request_history"]
    assert history["ok"] is True and history["count"] == len(history["messages"]), history
    asked = results["whatsapp_request_approval"]
    assert asked["status"] == "pending", asked
    assert [a["request_id"] for a in results["whatsapp_check_approvals"]["approvals"]] == [asked["request_id"]]
    assert results["whatsapp_logout"]["ok"] is True
    # The group tools on a real group: made with Carol's phone in it, previewed by its link, left last.
    assert results["whatsapp_create_group"]["participants"][0]["status"] == "added", results["whatsapp_create_group"]
    assert len(results["whatsapp_get_group_info"]["participants"]) == 2
    assert results["whatsapp_join_group"]["joined"] is False and results["whatsapp_join_group"]["name"] == GROUP
    assert results["whatsapp_leave_group"]["ok"] is True
    # The agent helpers, each through the SDK's output-schema check above.
    assert results["whatsapp_get_message"]["message"]["body"] == "hello carol", results["whatsapp_get_message"]
    assert results["whatsapp_reconnect"]["state"] == "ready", results["whatsapp_reconnect"]
    assert results["whatsapp_export_chat"]["summary"]["count"] >= 2, results["whatsapp_export_chat"]
    assert any(m.get("context_messages") is not None for m in results["whatsapp_list_messages"]["messages"])


async def _agent_helpers(server: WauseServer, sim: SimProcess) -> dict:
    """The agent helpers' new arguments through the SDK on a linked engine: list_chats filter and
    cursor, list_messages before/after and include_context, search context, get_message, catch_up,
    export_chat (the file it names), reconnect, and the invalid_request a malformed time gets."""
    http_client, _ = recording_http_client()
    out: dict = {}
    async with http_client:
        async with streamable_http_client(server.url, http_client=http_client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}

                async def call(name: str, arguments: dict, error: bool = False) -> dict:
                    result = await session.call_tool(name, arguments)
                    assert field_of(result, "is_error", "isError") is error, (name, result.content)
                    structured = field_of(result, "structured_content", "structuredContent")
                    if not error:
                        assert_matches_schema(structured, field_of(tools[name], "output_schema", "outputSchema"))
                    return structured if not error else result

                async def until(predicate):
                    with anyio.fail_after(DEADLINE):
                        while True:
                            value = await predicate()
                            if value:
                                return value
                            await anyio.sleep(0.05)

                started = await call("whatsapp_start_auth", {})
                assert sim.admin("POST", f"/accounts/{ADA}/scan", {"qr": started["qr"]}).status == 200

                async def ready():
                    return (await call("whatsapp_status", {}))["state"] == "ready"

                await until(ready)
                sent = await call("whatsapp_send_message", {"phone_number": CAROL, "message": "first from ada"})
                for text in ("one from carol", "two from carol", "does this work?"):
                    assert sim.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": text}).status == 200

                async def arrived():
                    found = await call("whatsapp_search_messages", {"query": "\"does this work\""})
                    return found["count"] > 0

                await until(arrived)
                out["chats_filtered"] = await call("whatsapp_list_chats", {"filter": CAROL[-4:], "limit": 1})
                out["chats_none"] = await call("whatsapp_list_chats", {"filter": "no such chat name"})
                out["chats_groups"] = await call("whatsapp_list_chats", {"groups_only": True})
                out["listed"] = await call("whatsapp_list_messages", {"to": CAROL, "after": "2000-01-01T00:00:00Z",
                                                                      "limit": 1, "include_context": True})
                out["bad_time"] = await call("whatsapp_list_messages", {"before": "tomorrow-ish"}, error=True)
                out["searched"] = await call("whatsapp_search_messages", {"query": "two", "include_context": True, "context_size": 1})
                out["got"] = await call("whatsapp_get_message", {"message_id": sent["message_id"]})
                out["missing"] = await call("whatsapp_get_message", {"message_id": "NOSUCHID"}, error=True)
                out["caught_up"] = await call("whatsapp_catch_up", {"since": "today"})
                out["exported"] = await call("whatsapp_export_chat", {"chat": CAROL, "format": "json"})
                out["reconnected"] = await call("whatsapp_reconnect", {})
                # Still sending after the reconnect.
                out["after_reconnect"] = await call("whatsapp_send_message", {"phone_number": CAROL, "message": "back again"})
    return out


def test_agent_helpers_through_the_sdk(linked_setup):
    sim, server = linked_setup
    out = run(_agent_helpers, server, sim)
    carol_jid = f"{CAROL}@s.whatsapp.net"
    assert [c["id"] for c in out["chats_filtered"]["chats"]] == [carol_jid], out["chats_filtered"]
    assert out["chats_none"]["chats"] == [] and out["chats_none"]["next_cursor"] is None
    assert out["chats_groups"]["chats"] == []
    first = out["listed"]["messages"][0]
    assert first["body"] == "first from ada" and [m["body"] for m in first["context_messages"]] == ["one from carol", "two from carol"]
    assert "before" in str(out["bad_time"].content)
    hit = out["searched"]["results"][0]
    assert [m["body"] for m in hit["context_messages"]] == ["one from carol", "does this work?"], hit
    assert out["got"]["message"]["body"] == "first from ada" and out["got"]["quoted_message"] is None
    assert "not_found" in str(out["missing"].content)
    caught = out["caught_up"]
    assert [q["body"] for q in caught["questions"]] == ["does this work?"], caught
    assert caught["chats"][0]["chat"] == carol_jid and caught["chats"][0]["unread_count"] == 3
    exported = out["exported"]
    path = pathlib.Path(exported["path"])
    assert path.parent == pathlib.Path(server.data_dir) / "exports" and oct(path.stat().st_mode & 0o777) == "0o600"
    document = json.loads(path.read_text())
    assert [m["body"] for m in document["messages"]] == ["first from ada", "one from carol", "two from carol", "does this work?"]
    assert exported["summary"]["count"] == 4
    assert out["reconnected"]["state"] == "ready"
    assert out["after_reconnect"]["ok"] is True
