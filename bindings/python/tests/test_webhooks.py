"""Issue 16's signed webhooks through the Python binding's generated methods, against a real
receiver (http.server on 127.0.0.1): add (a generated secret shown once), list (never the secret),
test (a signed ``webhook.test`` POST, checked with Python's own hmac), a 410 failing at once, update,
delete, the URL rule, and the ``webhooks`` config key. Waits block on the receiver's queue or poll a
state under DEADLINE (against hangs only)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import queue
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import wause

from conftest import DEADLINE


class Receiver:
    """Records each POST (headers, body) and answers the next status of ``answers`` (then 200)."""

    def __init__(self) -> None:
        self.posts: "queue.Queue[Tuple[Dict[str, str], bytes]]" = queue.Queue()
        self.answers: List[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.posts.put(({k.lower(): v for k, v in self.headers.items()}, body))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self) -> Tuple[Dict[str, str], bytes]:
        return self.posts.get(timeout=DEADLINE)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    opened = Receiver()
    yield opened
    opened.close()


def verify(secret: str, headers: Dict[str, str], body: bytes) -> bool:
    """The README's verifier."""
    signed = headers["wause-webhook-timestamp"].encode() + b"." + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["wause-webhook-signature"])


def settled(client: wause.Client, webhook: str, delivery_id: int) -> Dict[str, Any]:
    """The delivery once it is no longer pending (the engine records it after the answer)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = [d for d in client.list_webhook_deliveries(webhook=webhook)["deliveries"] if d["delivery_id"] == delivery_id]
        if found and found[0]["status"] != "pending":
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} still pending")


def test_webhook_tools_sign_and_deliver(client: wause.Client, receiver: Receiver) -> None:
    added = client.add_webhook(receiver.url, events=["message.", "pairing.qr"])
    hook, secret = added["webhook"], added["secret"]
    assert secret.startswith("whsec_") and len(secret) == 6 + 64
    assert hook["url"] == receiver.url and hook["filter"] == ["message.", "pairing.qr"] and hook["enabled"] and hook["source"] == "method"
    listed = client.list_webhooks()["webhooks"]
    assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in json.dumps(listed) and secret not in json.dumps(listed)

    queued = client.test_webhook(hook["id"])["delivery"]
    assert queued["event"] == "webhook.test" and queued["status"] == "pending" and queued["id"].startswith("default:test-")
    headers, body = receiver.next()
    assert headers["wause-webhook-id"] == queued["id"] and headers["content-type"] == "application/json"
    assert verify(secret, headers, body) and not verify(secret + "x", headers, body)
    assert abs(int(headers["wause-webhook-timestamp"]) - time.time()) < 300
    event = json.loads(body)
    assert event["name"] == "webhook.test" and event["data"]["webhook"] == hook["id"]
    done = settled(client, hook["id"], queued["delivery_id"])
    assert done["status"] == "delivered" and done["attempts"] == 1 and done["last_http_status"] == 200

    # A 410 is not retried: the delivery fails at once.
    receiver.answers = [410]
    gone = client.test_webhook(hook["id"])["delivery"]
    receiver.next()
    failed = settled(client, hook["id"], gone["delivery_id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1 and failed["last_http_status"] == 410
    assert [d["delivery_id"] for d in client.list_webhook_deliveries(status="failed")["deliveries"]] == [gone["delivery_id"]]

    updated = client.update_webhook(hook["id"], events=[], enabled=False)["webhook"]
    assert updated["filter"] == [] and updated["enabled"] is False
    assert client.delete_webhook(hook["id"]) == {"deleted": True, "webhook": hook["id"]}
    assert client.list_webhooks()["webhooks"] == [] and client.list_webhook_deliveries()["deliveries"] == []
    with pytest.raises(wause.NotFound):
        client.delete_webhook(hook["id"])
    with pytest.raises(wause.NotFound):
        client.test_webhook("wh_missing")


def test_webhook_rules_refuse_bad_input(client: wause.Client) -> None:
    for url in ("http://example.com/hook", "ftp://127.0.0.1/", "https://user:pw@example.com/"):
        with pytest.raises(wause.InvalidRequest):
            client.add_webhook(url)
    with pytest.raises(wause.InvalidRequest):
        client.add_webhook("https://example.com/hook", events=["mesage."])
    with pytest.raises(wause.InvalidRequest):
        client.add_webhook("https://example.com/hook", secret="short")
    # Nothing was stored by the refusals.
    assert client.list_webhooks()["webhooks"] == []
    mine = client.add_webhook("https://example.com/hook", secret="my-own-secret-1234")
    assert mine["secret"] == "my-own-secret-1234"


def test_webhooks_config_key(tmp_path: Path, receiver: Receiver) -> None:
    secret = "config-secret-0123456789"
    config = {"data_dir": str(tmp_path / "store"), "webhooks": [{"url": receiver.url, "events": ["message."], "secret": secret}]}
    with wause.Client(config) as client:
        listed = client.list_webhooks()["webhooks"]
        assert [(w["url"], w["source"], w["filter"]) for w in listed] == [(receiver.url, "config", ["message."])]
        client.test_webhook(listed[0]["id"])
        headers, body = receiver.next()
        assert verify(secret, headers, body)
    with pytest.raises(wause.InvalidRequest):
        wause.Client({"data_dir": str(tmp_path / "other"), "webhooks": [{"url": "http://example.com/", "secret": secret}]})


def test_many_deliveries_share_a_few_connections_and_close_lets_them_go(data_dir: Path) -> None:
    """One HTTP client per engine (WebhookHTTP.live): deliveries reuse keep-alive connections, no
    more to one webhook than it has deliveries in flight (Webhooks.perWebhook, 4), and closing the
    engine closes them."""
    lock = threading.Condition()
    connections: Dict[Tuple[str, int], int] = {}
    open_now: List[int] = [0]
    posts: "queue.Queue[bytes]" = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so a shared client can reuse the connection

        def setup(self) -> None:
            super().setup()
            with lock:
                open_now[0] += 1

        def finish(self) -> None:
            super().finish()
            with lock:
                open_now[0] -= 1
                lock.notify_all()

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                connections[self.client_address] = connections.get(self.client_address, 0) + 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            posts.put(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = wause.Client(data_dir=str(data_dir))
        hook = client.add_webhook(f"http://127.0.0.1:{server.server_address[1]}/hook")["webhook"]["id"]
        count = 60
        ids = [client.test_webhook(hook)["delivery"]["delivery_id"] for _ in range(count)]
        for _ in range(count):
            posts.get(timeout=DEADLINE)
        for delivery_id in ids:
            assert settled(client, hook, delivery_id)["status"] == "delivered"
        with lock:
            assert sum(connections.values()) == count
            assert 1 <= len(connections) <= 4, connections
        client.close()
        # Closing the engine shut its HTTP client down: the endpoint sees every connection end.
        with lock:
            assert lock.wait_for(lambda: open_now[0] == 0, timeout=DEADLINE), open_now
    finally:
        server.shutdown()
        server.server_close()
