"""Video and sticker both ways through the real binaries (issue 13: "every kind, both directions,
the bytes that arrive are the bytes that were sent"): `wause-mcp` sends an MP4 (its length read
from `mvhd`) and a WebP sticker (made by Pillow's libwebp) to a virtual phone, whose inbox shows
each decrypted and verified (sha256 of the plaintext); the phone sends a video and a sticker back
and `whatsapp_download_media` writes the same bytes under the engine's data directory.

Waits block on tool calls or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct

import pytest

from engine_flows import call_tool, call_tool_error, create_account, poll, start_media_engine

ADA, BEA = "15558860001", "15558860002"


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def movie(seconds: int) -> bytes:
    """An ISO base media file as cameras write it (`moov` after `mdat`), timescale 1000."""
    mvhd = bytes(4) + bytes(8) + struct.pack(">II", 1000, seconds * 1000) + bytes(80)
    return (box(b"ftyp", b"isom" + bytes([0, 0, 2, 0]) + b"isomiso2mp41") + box(b"mdat", os.urandom(200_000))
            + box(b"moov", box(b"mvhd", mvhd) + box(b"trak", bytes(16))))


def webp(width: int, height: int) -> bytes:
    image_module = pytest.importorskip("PIL.Image")
    image = image_module.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80)
    return out.getvalue()


def test_videos_and_stickers_both_ways(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    server, session, outbox = start_media_engine(tmp_path_factory, sim, account)

    def inbox_row(message_id: str) -> dict:
        return poll(lambda: next((m for m in sim.admin("GET", f"/accounts/{BEA}/inbox").json()["messages"] if m["id"] == message_id),
                                 None), f"Bea's phone got {message_id}", server, session)

    clip, sticker = movie(13), webp(512, 512)
    (outbox / "clip.mp4").write_bytes(clip)
    (outbox / "sticker.webp").write_bytes(sticker)
    sent = call_tool(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(outbox / "clip.mp4"), "caption": "a clip"})
    assert sent["media_type"] == "video" and sent["sha256"] == hashlib.sha256(clip).hexdigest(), sent
    row = inbox_row(sent["message_id"])
    assert row["media"]["type"] == "video" and row["media"]["sha256"] == hashlib.sha256(clip).hexdigest(), row
    assert row["media"]["mimetype"] == "video/mp4" and row["media"]["seconds"] == 13 and row["media"]["caption"] == "a clip", row
    assert "gif_playback" not in row["media"], row

    # The same clip as a GIF (muted, looping): the phone sees gifPlayback; a GIF flag on a sticker is refused.
    sent = call_tool(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(outbox / "clip.mp4"), "gif_playback": True})
    row = inbox_row(sent["message_id"])
    assert row["media"]["type"] == "video" and row["media"]["gif_playback"] is True, row
    assert row["media"]["sha256"] == hashlib.sha256(clip).hexdigest(), row
    ours = call_tool(server, session, "whatsapp_list_messages", {"to": BEA})["messages"]
    assert next(m for m in ours if m["id"] == sent["message_id"])["media"]["gif_playback"] is True, ours
    refused = call_tool_error(server, session, "whatsapp_send_file",
                              {"to": BEA, "file_path": str(outbox / "sticker.webp"), "gif_playback": True})
    assert refused["code"] == "invalid_request" and "gif_playback" in refused["message"], refused

    sent = call_tool(server, session, "whatsapp_send_file", {"to": BEA, "file_path": str(outbox / "sticker.webp")})
    assert sent["media_type"] == "sticker" and sent["sha256"] == hashlib.sha256(sticker).hexdigest(), sent
    row = inbox_row(sent["message_id"])
    assert row["media"]["type"] == "sticker" and row["media"]["sha256"] == hashlib.sha256(sticker).hexdigest(), row
    assert row["media"]["mimetype"] == "image/webp" and (row["media"]["width"], row["media"]["height"]) == (512, 512), row

    cursor = 0
    for kind, data, extra in (("video", movie(7), {"caption": "back at you", "mimetype": "video/mp4", "gif_playback": True}),
                              ("sticker", webp(256, 256), {})):
        posted = sim.admin("POST", f"/accounts/{BEA}/send", {"to": ADA, "type": kind, "data_base64": base64.b64encode(data).decode(),
                                                             **extra})
        assert posted.status == 200, posted
        waited = call_tool(server, session, "whatsapp_wait_for_message", {"timeout": 20, "after_cursor": cursor})
        cursor = waited["cursor"]
        message = waited["message"]
        assert message["type"] == kind and message["has_media"] is True, message
        assert message["media"]["sha256"] == hashlib.sha256(data).hexdigest() and message["media"]["size"] == len(data), message
        if kind == "video":
            assert message["body"] == "back at you" and message["media"]["gif_playback"] is True, message
        downloaded = call_tool(server, session, "whatsapp_download_media", {"message_id": message["id"]})
        assert downloaded["sha256"] == hashlib.sha256(data).hexdigest(), downloaded
        assert downloaded["path"].startswith(str(server.data_dir)) and open(downloaded["path"], "rb").read() == data
