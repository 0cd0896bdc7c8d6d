"""Contacts and presence through wause-sim (issue 14): a real `wause-mcp` (toolset `contacts`) linked to a
virtual phone asks who is on WhatsApp, reads another phone's profile (about, business flag, picture — downloaded
from the sim's HTTPS media host into the data directory, 0600), names a contact locally (the name wins in the
chat list and as the messages' author), follows a phone's presence and sees it type; the phones see the
engine's typing and presence (`GET /accounts/{phone}/presence`).

Every wait blocks on the session's event stream; what the phone sees (no event) is polled under the deadline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat

from engine_flows import call_tool, call_tool_error, create_account, linked_engine, stopped_cleanly, wait_until

ADA, BOB = "15550001111", "15550002222"


def next_matching(events, name: str, test) -> dict:
    while True:
        event = events.next(name)
        if test(event["data"]):
            return event


def test_contacts_and_presence_through_the_engine(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, ADA, "Ada")
    bob = create_account(sim, BOB, "Bob")
    server, session, events = linked_engine(sim, tmp_path_factory, {"phone": ADA},
                                            extra=("--toolsets", "core,contacts", "--media-ca-file", sim.media_ca_file,
                                                   "--push-name", "Ada"))

    # Who is on WhatsApp: Bob with his JID and LID; an unknown number is not. Bad input is a clear error.
    checked = call_tool(server, session, "whatsapp_is_on_whatsapp", {"phones": ["+1 555 000 2222", "15559990000"]})
    assert checked["results"] == [
        {"phone": BOB, "on_whatsapp": True, "jid": f"{BOB}@s.whatsapp.net", "lid": bob["lid"]},
        {"phone": "15559990000", "on_whatsapp": False},
    ], checked
    refused = call_tool_error(server, session, "whatsapp_is_on_whatsapp", {"phones": ["0123"]})
    assert refused["code"] == "invalid_request" and refused["details"]["phone"] == "0123", refused

    # Bob's profile, set on his phone, read through usync; the picture downloaded.
    picture = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    profile = sim.admin("PUT", f"/accounts/{BOB}/profile",
                        {"about": "At the lake", "business": True, "picture_base64": base64.b64encode(picture).decode()})
    assert profile.status == 200, profile
    info = call_tool(server, session, "whatsapp_get_user_info", {"phones": [BOB]})["users"][0]
    assert info["about"] == "At the lake" and info["business"] is True and info["lid"] == bob["lid"], info
    assert info["picture_id"] == profile.json()["picture_id"] and info["devices"][0] == f"{BOB}@s.whatsapp.net", info
    fetched = call_tool(server, session, "whatsapp_get_profile_picture", {"target": BOB, "download": True})
    assert fetched["has_picture"] is True and fetched["sha256"] == hashlib.sha256(picture).hexdigest(), fetched
    with open(fetched["path"], "rb") as handle:
        assert handle.read() == picture
    assert stat.S_IMODE(os.stat(fetched["path"]).st_mode) == 0o600
    assert "/media/profile-pictures/" in fetched["path"]

    # A local name wins over Bob's push name in the chat list and as the author of his messages.
    posted = sim.admin("POST", f"/accounts/{BOB}/send", {"to": ADA, "text": "boat is ready"})
    assert posted.status == 200, posted
    next_matching(events, "message.received", lambda d: d["message"]["body"] == "boat is ready")
    named = call_tool(server, session, "whatsapp_set_contact_name", {"contact": BOB, "name": "Captain Bob"})
    assert named["contact"]["name"] == "Captain Bob" and named["contact"]["push_name"] == "Bob", named
    chats = call_tool(server, session, "whatsapp_list_chats", {"limit": 20})["chats"]
    assert next(c for c in chats if c["id"] == f"{BOB}@s.whatsapp.net")["name"] == "Captain Bob", chats
    read = call_tool(server, session, "whatsapp_read_messages", {"phone_number": BOB, "limit": 5})
    assert read["messages"][-1]["author"] == "Captain Bob", read
    found = call_tool(server, session, "whatsapp_search_contacts", {"query": "captain"})
    assert [c["phone"] for c in found["contacts"]] == [BOB] and found["contacts"][0]["name_source"] == "local", found

    # Presence: subscribing answers at once; the phone going online follows.
    call_tool(server, session, "whatsapp_subscribe_presence", {"contact": "Captain Bob"})
    first = next_matching(events, "presence.changed", lambda d: d["contact"] == f"{BOB}@s.whatsapp.net")
    assert first["data"]["state"] == "unavailable", first
    assert sim.admin("PUT", f"/accounts/{BOB}/presence", {"state": "available"}).status == 200
    next_matching(events, "presence.changed", lambda d: d["state"] == "available")

    # Bob types to us, then stops.
    assert sim.admin("POST", f"/accounts/{BOB}/typing", {"to": ADA, "state": "composing"}).status == 200
    started = next_matching(events, "typing.started", lambda d: d["from"] == f"{BOB}@s.whatsapp.net")
    assert started["data"]["chat"] == f"{BOB}@s.whatsapp.net" and started["data"]["media"] is None, started
    assert sim.admin("POST", f"/accounts/{BOB}/typing", {"to": ADA, "state": "paused"}).status == 200
    next_matching(events, "typing.stopped", lambda d: d["from"] == f"{BOB}@s.whatsapp.net")

    # We type to Bob and go online: the phones see both.
    call_tool(server, session, "whatsapp_send_typing", {"to": BOB, "state": "recording"})
    call_tool(server, session, "whatsapp_set_presence", {"state": "available"})
    bob_sees = wait_until(lambda: next((a for a in sim.admin("GET", f"/accounts/{BOB}/presence").json()["activity"]
                                        if a["kind"] == "typing"), None), "Bob's phone seeing us type")
    assert bob_sees["state"] == "recording" and bob_sees["from"] == f"{ADA}@s.whatsapp.net", bob_sees
    wait_until(lambda: any(a["kind"] == "presence" and a["state"] == "available"
                           for a in sim.admin("GET", f"/accounts/{ADA}/presence").json()["activity"]), "Ada's phone seeing us online")
    stopped_cleanly(server)
