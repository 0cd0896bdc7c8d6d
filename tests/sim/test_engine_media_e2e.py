"""Media through the real binaries (issue 13): `wause-mcp` (toolsets core,media) linked to a
virtual phone of a real `wause-sim`, trusting the sim's media CA (`--media-ca-file`) and sending
only from one folder (`--media-dirs`).

The engine sends a document and a location to another phone, whose inbox shows the file verified
(sha256 of the decrypted plaintext) and the place; the phone's image arrives at the engine as
`type: image` with its media metadata, and `whatsapp_download_media` writes the same bytes under
the engine's data directory (a second call answers the same file); send_file refusals come back
with their codes and nothing reaches the phone.

Waits block on the event stream or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import os

from engine_flows import call_tool, call_tool_error, create_account, poll, start_media_engine

ADA, BEA = "15558880001", "15558880002"


def test_files_locations_and_downloads_end_to_end(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    server, session, outbox = start_media_engine(tmp_path_factory, sim, account)

    def inbox() -> list[dict]:
        return sim.admin("GET", f"/accounts/{BEA}/inbox").json()["messages"]

    document = b"%PDF-1.4\n" + os.urandom(50_001)
    path = outbox / "plan.pdf"
    path.write_bytes(document)
    sent = call_tool(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(path), "caption": "the plan"})
    assert sent["status"] in ("sent", "delivered") and sent["media_type"] == "document", sent
    assert sent["sha256"] == hashlib.sha256(document).hexdigest() and sent["size"] == len(document), sent
    row = poll(lambda: next((m for m in inbox() if m["id"] == sent["message_id"]), None), "Bea's phone got the file", server, session)
    assert row["media"]["sha256"] == hashlib.sha256(document).hexdigest(), row
    assert row["media"]["file_name"] == "plan.pdf" and row["media"]["caption"] == "the plan", row

    placed = call_tool(server, session, "whatsapp_send_location", {"to": BEA, "latitude": 41.1579, "longitude": -8.6291, "name": "Porto"})
    row = poll(lambda: next((m for m in inbox() if m["id"] == placed["message_id"]), None), "Bea's phone got the place", server, session)
    assert row["media"] == {"type": "location", "latitude": 41.1579, "longitude": -8.6291, "name": "Porto"}, row

    image = os.urandom(30_000)
    posted = sim.admin("POST", f"/accounts/{BEA}/send", {"to": ADA, "type": "image", "caption": "look",
                                                         "data_base64": base64.b64encode(image).decode()})
    assert posted.status == 200, posted
    waited = call_tool(server, session, "whatsapp_wait_for_message", {"timeout": 20, "after_cursor": 0})
    message = waited["message"]
    assert message["type"] == "image" and message["has_media"] is True and message["body"] == "look", message
    assert message["media"]["size"] == len(image) and message["media"]["sha256"] == hashlib.sha256(image).hexdigest(), message
    downloaded = call_tool(server, session, "whatsapp_download_media", {"message_id": message["id"]})
    assert downloaded["sha256"] == hashlib.sha256(image).hexdigest(), downloaded
    assert downloaded["path"].startswith(str(server.data_dir)) and open(downloaded["path"], "rb").read() == image
    assert os.stat(downloaded["path"]).st_mode & 0o777 == 0o600
    # The second call answers the same file, and over MCP a small image also comes as an image block.
    again = server.rpc(session, "tools/call", {"name": "whatsapp_download_media", "arguments": {"message_id": message["id"]}})
    assert again.status == 200, again
    result = again.json()["result"]
    assert result["structuredContent"]["path"] == downloaded["path"], result
    blocks = [block for block in result["content"] if block["type"] == "image"]
    assert len(blocks) == 1 and blocks[0]["mimeType"] == downloaded["mimetype"].split(";")[0], result["content"][1:]
    assert base64.b64decode(blocks[0]["data"]) == image

    before = len(inbox())
    assert call_tool_error(server, session, "whatsapp_send_file", {"to": BEA, "file_path": "/etc/hostname"})["code"] == "forbidden_path"
    (outbox / "setup.pdf").write_bytes(b"MZ" + os.urandom(300))
    refused = call_tool_error(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(outbox / "setup.pdf")})
    assert refused["code"] in ("invalid_request", "forbidden_path"), refused
    assert call_tool_error(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(path), "caption": "x" * 1025})["code"] \
        == "invalid_request"
    assert len(inbox()) == before
