"""wause-sim's media host and its virtual phones' media against code nobody on this team wrote:
the independent companion of test_sim_independent_client.py (python-axolotl, baileys-python's
binary XML, protobuf by hand) asks `media_conn` (whatsmeow mediaconn.go), and media is encrypted,
verified and decrypted here with `cryptography` following the reference clients' formulas
(whatsmeow upload.go / download.go; the reference fact map's key schedule: HKDF-SHA256 to 112
bytes, AES-256-CBC, HMAC-SHA256 cut to 10 bytes, SHA-256 of the plaintext and of the upload):

  - a virtual phone's image, read from the companion's decrypted message, downloads over TLS
    trusting DATA_DIR/media-ca.pem from the host media_conn named, and decrypts and verifies here;
  - a file encrypted here, uploaded with the media_conn auth and token, and sent to the phone in an
    ImageMessage built by hand: the phone's inbox shows the SHA-256 of our plaintext;
  - a 64 MB upload and download stream through the simulator: its peak RSS grows by far less than
    the file (constant memory).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import time
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import sim_client as sc
from test_sim_independent_client import (collect, expect_offline_done, inbox, link_by_qr, new_account, node, poll, query,  # noqa: F401
                                         root, sim)

IMAGE_INFO = b"WhatsApp Image Keys"
CHUNK = 1 << 20


def media_keys(media_key: bytes, info: bytes) -> tuple[bytes, bytes, bytes]:
    expanded = HKDF(algorithm=hashes.SHA256(), length=112, salt=None, info=info).derive(media_key)
    return expanded[:16], expanded[16:48], expanded[48:80]


def encrypt_file(source, target, media_key: bytes, info: bytes = IMAGE_INFO) -> dict:
    """Streams `source` (chunks) into `target`: ciphertext then the 10-byte MAC. Returns the hashes."""
    iv, cipher_key, mac_key = media_keys(media_key, info)
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).encryptor()
    padder = padding.PKCS7(128).padder()
    mac = hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(iv)
    plain_hash, body_hash, length = hashlib.sha256(), hashlib.sha256(), 0
    for chunk in source:
        plain_hash.update(chunk)
        length += len(chunk)
        encrypted = encryptor.update(padder.update(chunk))
        mac.update(encrypted)
        body_hash.update(encrypted)
        target.write(encrypted)
    encrypted = encryptor.update(padder.finalize()) + encryptor.finalize()
    mac.update(encrypted)
    tail = encrypted + mac.finalize()[:10]
    body_hash.update(tail)
    target.write(tail)
    return {"file_sha256": plain_hash.digest(), "file_enc_sha256": body_hash.digest(), "length": length}


def decrypt_and_verify(body: bytes, media_key: bytes, file_sha256: bytes, file_enc_sha256: bytes, info: bytes = IMAGE_INFO) -> bytes:
    """whatsmeow download.go validateMedia's order: the upload's hash, the MAC, the padding, the plaintext's hash."""
    assert hashlib.sha256(body).digest() == file_enc_sha256, "fileEncSha256"
    iv, cipher_key, mac_key = media_keys(media_key, info)
    ciphertext, mac = body[:-10], body[-10:]
    check = hmac.HMAC(mac_key, hashes.SHA256())
    check.update(iv + ciphertext)
    assert check.finalize()[:10] == mac, "MAC"
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plaintext = unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
    assert hashlib.sha256(plaintext).digest() == file_sha256, "fileSha256"
    return plaintext


def token(file_enc_sha256: bytes) -> str:
    """whatsmeow upload.go: URL-safe base64 with padding."""
    import base64
    return base64.urlsafe_b64encode(file_enc_sha256).decode()


def https(sim, host: str):
    hostname, _, port = host.rpartition(":")
    return http.client.HTTPSConnection(hostname, int(port), timeout=60,
                                       context=ssl.create_default_context(cafile=sim.media_ca_file))


def media_conn(companion, sim) -> tuple[str, str]:
    answer = query(companion, "w:m", "set", [node("media_conn")], "media-conn")
    [conn] = answer.content
    assert conn.tag == "media_conn", answer
    for required in ("auth", "ttl", "auth_ttl", "max_buckets"):  # whatsmeow mediaconn.go refuses an answer without them
        assert conn.attrs.get(required), conn.attrs
    hosts = [h.attrs["hostname"] for h in conn.content if h.tag == "host"]
    assert hosts == [f"127.0.0.1:{sim.media_port}"], hosts
    return conn.attrs["auth"], hosts[0]


def upload(sim, host: str, auth: str, path: str, hashes_: dict) -> dict:
    connection = https(sim, host)
    try:
        t = token(hashes_["file_enc_sha256"])
        with open(path, "rb") as body:
            connection.request("POST", f"/mms/image/{t}?auth={quote(auth, safe='')}&token={t}", body=body,
                               headers={"Origin": "https://web.whatsapp.com", "Content-Length": str(os.path.getsize(path))})
        response = connection.getresponse()
        answer = response.read()
        assert response.status == 200, (response.status, answer)
        return json.loads(answer)
    finally:
        connection.close()


def download(sim, host: str, direct_path: str, file_enc_sha256: bytes, sink) -> int:
    connection = https(sim, host)
    try:
        connection.request("GET", f"{direct_path}&hash={quote(token(file_enc_sha256), safe='')}&mms-type=image&__wa-mms=",
                           headers={"Origin": "https://web.whatsapp.com"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status
        while chunk := response.read(CHUNK):
            sink(chunk)
        return 200
    finally:
        connection.close()


def logged_in(sim, root, account):
    keys, _, _ = link_by_qr(sim, root, account)
    store = sc.axolotl_store(keys)
    companion = sc.Companion(sim.ws_url, root, sc.login_payload(int(account["phone"]), 1), keys=keys)
    success, _ = companion.receive()
    assert success.tag == "success", success
    expect_offline_done(companion, 0)
    uploaded = query(companion, "encrypt", "set", sc.axolotl_prekey_upload(store, keys, range(1, 11), node), "upload")
    assert uploaded.attrs.get("type") == "result", uploaded
    return companion, store


def test_media_both_ways_between_a_virtual_phone_and_an_independent_client(sim, root, tmp_path):
    account, other = new_account(sim), new_account(sim)
    me, them = account["phone"], other["phone"]
    companion, store = logged_in(sim, root, account)
    with companion:
        auth, host = media_conn(companion, sim)

        # The phone's image: its message decrypts here, and so does the file it names.
        data = os.urandom(123_457)
        import base64
        posted = sim.admin("POST", f"/accounts/{them}/send",
                           {"to": me, "type": "image", "data_base64": base64.b64encode(data).decode(), "caption": "from the phone"})
        assert posted.status == 200, posted
        seen = collect(companion, lambda s: any(x.tag == "message" for x in s), "the phone's image")
        message = next(s for s in seen if s.tag == "message")
        assert message.attrs["id"] == posted.json()["message_id"] and message.attrs.get("type") == "media", message.attrs
        [enc] = [child for child in message.content if child.tag == "enc"]
        plaintext = sc.decrypt(store, message.attrs["from"], enc.attrs["type"], enc.content)
        image = sc.pb_decode(sc.pb_one(sc.pb_decode(plaintext), 3))  # Message.imageMessage = 3
        direct_path = sc.pb_one(image, 11).decode()
        assert sc.pb_one(image, 1).decode() == f"https://{host}{direct_path}"  # URL = the host media_conn named
        assert sc.pb_one(image, 2) == b"image/jpeg" and sc.pb_one(image, 3) == b"from the phone"
        assert sc.pb_one(image, 5) == len(data) and len(sc.pb_one(image, 8)) == 32 and sc.pb_one(image, 12) > 0
        received = bytearray()
        assert download(sim, host, direct_path, sc.pb_one(image, 9), received.extend) == 200
        assert decrypt_and_verify(bytes(received), sc.pb_one(image, 8), sc.pb_one(image, 4), sc.pb_one(image, 9)) == data

        # Ours to the phone: encrypted and uploaded here, described in an ImageMessage by hand.
        ours = os.urandom(200_003)
        media_key = os.urandom(32)
        encrypted = tmp_path / "ours.enc"
        with open(encrypted, "wb") as target:
            hashes_ = encrypt_file([ours[i:i + 65536] for i in range(0, len(ours), 65536)], target, media_key)
        uploaded = upload(sim, host, auth, str(encrypted), hashes_)
        assert uploaded["url"] == f"https://{host}{uploaded['direct_path']}", uploaded
        image_message = (sc.pb_bytes(1, uploaded["url"]) + sc.pb_bytes(2, "image/png") + sc.pb_bytes(3, "from the client")
                         + sc.pb_bytes(4, hashes_["file_sha256"]) + sc.pb_varint(5, len(ours)) + sc.pb_bytes(8, media_key)
                         + sc.pb_bytes(9, hashes_["file_enc_sha256"]) + sc.pb_bytes(11, uploaded["direct_path"])
                         + sc.pb_varint(12, int(time.time())))
        reply_id = "3EB0" + os.urandom(9).hex().upper()
        kind, ciphertext = sc.encrypt(store, other["jid"], sc.pb_bytes(3, image_message))
        companion.send(node("message", {"id": reply_id, "to": other["jid"], "type": "media"}, [
            node("participants", {}, [node("to", {"jid": other["jid"]}, [node("enc", {"v": "2", "type": kind}, ciphertext)])]),
        ]))
        seen = collect(companion, lambda s: any(x.tag == "ack" for x in s), "the message's ack")
        [ack] = [x for x in seen if x.tag == "ack"]
        assert ack.attrs.get("id") == reply_id and "error" not in ack.attrs, ack.attrs
        row = poll(lambda: next((m for m in inbox(sim, them) if m["id"] == reply_id), None), "our image in the phone's inbox")
        media = row["media"]
        assert "error" not in media, media
        assert media["type"] == "image" and media["mimetype"] == "image/png" and media["caption"] == "from the client", media
        assert media["sha256"] == hashlib.sha256(ours).hexdigest() and media["size"] == len(ours), media


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_64_mb_file_streams_through_the_media_host_in_constant_memory(sim, root, tmp_path):
    companion, _ = logged_in(sim, root, new_account(sim))
    with companion:
        auth, host = media_conn(companion, sim)
    size = 64 * CHUNK
    media_key = os.urandom(32)
    encrypted = tmp_path / "big.enc"
    seed = os.urandom(32)
    chunks = (hashlib.sha256(seed + i.to_bytes(4, "big")).digest() * (CHUNK // 32) for i in range(size // CHUNK))
    with open(encrypted, "wb") as target:
        hashes_ = encrypt_file(chunks, target, media_key)
    before = peak_rss_kib(sim.proc.pid)
    uploaded = upload(sim, host, auth, str(encrypted), hashes_)
    body_hash = hashlib.sha256()
    assert download(sim, host, uploaded["direct_path"], hashes_["file_enc_sha256"], body_hash.update) == 200
    assert body_hash.digest() == hashes_["file_enc_sha256"]
    grown = peak_rss_kib(sim.proc.pid) - before
    # The file is 64 MB; the simulator's peak grows by a small fraction of it.
    assert grown < 32 * 1024, f"peak RSS grew by {grown} KiB"
