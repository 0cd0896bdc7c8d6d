"""Media in constant memory (issue 13: "a 1 GB file is encrypted, hashed and uploaded, and
downloaded, verified and decrypted, in constant memory"), measured on the debug binaries: one
`wause-mcp` sends a 60 MB document (1 GB under `make bench-media-rss`) to another through the real `wause-sim` (intake copy,
encryption, HTTPS upload), the other downloads it (HTTPS download, verification, decryption), and
each process's peak resident set (`VmHWM` in /proc/<pid>/status) grows by well under the file's
size — under 32 MB — over its peak once logged in. The file arrives byte for byte (sha256).

Waits block on tool calls or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from engine_flows import call_tool, create_account, start_media_engine

ADA, BEA = "15558870001", "15558870002"
#: The file's size: 60 MB in the suite (debug binaries); `make bench-media-rss` sets
#: WAUSE_MEDIA_RSS_MB=1024 and runs the release binaries (media_max_bytes raised to fit).
SIZE = int(os.environ.get("WAUSE_MEDIA_RSS_MB", "60")) * 1024 * 1024
BOUND = 32 * 1024 * 1024


def peak_rss(server) -> int:
    """The process's high-water resident set, in bytes."""
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_large_file_goes_out_and_comes_in_in_constant_memory(make_sim, tmp_path_factory, request):
    sim = make_sim()
    engines = {}
    for phone, name in ((ADA, "Ada"), (BEA, "Bea")):
        account = create_account(sim, phone, name)
        server, session, outbox = start_media_engine(tmp_path_factory, sim, account,
                                                     extra=["--media-max-bytes", str(max(SIZE * 2, 64 << 20))])
        request.addfinalizer(server.stop)  # else both wause-mcp outlive the run (make bench-media-rss)
        engines[phone] = (server, session, outbox)

    sender, sender_session, outbox = engines[ADA]
    receiver, receiver_session, _ = engines[BEA]

    # A first small file warms both engines up: what is paid once (the HTTP client's event-loop
    # threads, TLS contexts, a thread's malloc arena, SQLite's cache) is not what grows with a file.
    idle_at_login = (peak_rss(sender), peak_rss(receiver))
    small = b"%PDF-1.4\n" + os.urandom(1 << 20)
    (outbox / "small.pdf").write_bytes(small)
    warm = call_tool(sender, sender_session, "whatsapp_send_file", {"to": BEA, "file_path": str(outbox / "small.pdf")})
    waited = call_tool(receiver, receiver_session, "whatsapp_wait_for_message", {"timeout": 60, "after_cursor": 0})
    assert waited["message"]["id"] == warm["message_id"], waited
    cursor = waited["cursor"]
    fetched = call_tool(receiver, receiver_session, "whatsapp_download_media", {"message_id": warm["message_id"]})
    assert fetched["sha256"] == hashlib.sha256(small).hexdigest(), fetched
    first = (peak_rss(sender) - idle_at_login[0], peak_rss(receiver) - idle_at_login[1])
    path = outbox / "big.pdf"
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        out.write(b"%PDF-1.4\n")
        digest.update(b"%PDF-1.4\n")
        for _ in range(SIZE // (1 << 20)):
            piece = os.urandom(1 << 20)
            out.write(piece)
            digest.update(piece)
    expected = digest.hexdigest()

    idle = peak_rss(sender)
    sent = call_tool(sender, sender_session, "whatsapp_send_file", {"to": BEA, "file_path": str(path)})
    assert sent["status"] in ("sent", "delivered") and sent["sha256"] == expected, sent
    sending = peak_rss(sender) - idle

    idle = peak_rss(receiver)
    waited = call_tool(receiver, receiver_session, "whatsapp_wait_for_message", {"timeout": 300, "after_cursor": cursor})
    message = waited["message"]
    assert message["type"] == "document" and message["media"]["sha256"] == expected, message
    downloaded = call_tool(receiver, receiver_session, "whatsapp_download_media", {"message_id": message["id"]})
    receiving = peak_rss(receiver) - idle
    assert downloaded["sha256"] == expected and downloaded["size"] == SIZE + 9, downloaded
    with open(downloaded["path"], "rb") as file:
        check = hashlib.sha256()
        for piece in iter(lambda: file.read(1 << 20), b""):
            check.update(piece)
    assert check.hexdigest() == expected

    print(f"\npeak RSS growth: first 1 MB file sending {first[0] / 2**20:.1f} MB, receiving {first[1] / 2**20:.1f} MB; "
          f"then the {SIZE >> 20} MB file sending {sending / 2**20:.1f} MB, receiving {receiving / 2**20:.1f} MB "
          f"(peak RSS at login {idle_at_login[0] / 2**20:.1f} / {idle_at_login[1] / 2**20:.1f} MB)")
    assert sending < BOUND, f"sending grew the peak RSS by {sending / 2**20:.1f} MB"
    assert receiving < BOUND, f"receiving grew the peak RSS by {receiving / 2**20:.1f} MB"
    # From the logged-in idle, the warm-up included: still under the bound.
    assert peak_rss(sender) - idle_at_login[0] < BOUND and peak_rss(receiver) - idle_at_login[1] < BOUND
