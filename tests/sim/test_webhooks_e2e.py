"""Signed webhooks through the real binaries (issue 16 "Signed webhooks", "Tests"): a `wause-mcp`
linked to a sim account posts every `message.received` to a local receiver (http.server on
127.0.0.1) that answers 500 once, 429 with Retry-After once, holds one request past the engine's
timeout, answers 410 to one event, and then dies and comes back on the same port while the
engine is killed (-9) mid-retry and restarted on its store. Every event arrives (the 410 one is
recorded `failed` after a single attempt), every signature verifies with Python's hmac, none is
lost, and a retried event carries the same Wause-Webhook-Id (`default:<cursor>`) every time.

Every wait blocks on the receiver's condition, the event stream, or polls a state under the
deadline; nothing sleeps.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time

from engine_flows import call_tool, create_account, linked_engine, open_events, start_engine, wait_until
from sim_process import DEADLINE

ADA, BEA = "15557770001", "15557770002"
SECRET = "e2e-webhook-secret-0123456789"
# The engine gives an endpoint 10 s (WebhookHTTP.timeout); a held request outlasts that.
SLOW = DEADLINE + 15


class Receiver:
    """Answers by the message text in the event and the attempt number of its id: `m-500` and
    `m-429` fail their first attempt, `m-timeout` holds its first attempt unanswered, `m-410`
    always answers 410, everything else 200. Every POST is kept (headers, parsed body, answer)."""

    def __init__(self, port: int = 0, posts: list | None = None) -> None:
        # A receiver that comes back keeps what the first one was sent.
        self.posts: list[tuple[dict, dict, int]] = posts if posts is not None else []
        self.condition = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["_raw"] = raw
                body = json.loads(raw)
                text = ((body.get("data") or {}).get("message") or {}).get("body", "")
                with receiver.condition:
                    attempt = 1 + sum(1 for h, _, _ in receiver.posts if h["wause-webhook-id"] == headers["wause-webhook-id"])
                status = 200
                if text == "m-410":
                    status = 410
                elif attempt == 1 and text in ("m-500", "m-429"):
                    status = int(text[2:])
                elif attempt == 1 and text == "m-timeout":
                    with receiver.condition:
                        receiver.posts.append((headers, body, 0))
                        receiver.condition.notify_all()
                    receiver.release.wait(SLOW)  # the engine has given up by then
                    return
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.condition:
                    receiver.posts.append((headers, body, status))
                    receiver.condition.notify_all()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, what: str, timeout: float = DEADLINE) -> None:
        with self.condition:
            if not self.condition.wait_for(lambda: predicate(self.posts), timeout=timeout):
                raise AssertionError(f"{what}: not within {timeout}s; got {[(b.get('cursor'), s) for _, b, s in self.posts]}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def text_of(body: dict) -> str:
    return ((body.get("data") or {}).get("message") or {}).get("body", "")


def answered(posts, text: str, status: int = 200) -> bool:
    return any(text_of(b) == text and s == status for _, b, s in posts)


def deliveries(server, session) -> list[dict]:
    return call_tool(server, session, "whatsapp_list_webhook_deliveries", {"limit": 1000})["deliveries"]


def send(sim, text: str) -> None:
    posted = sim.admin("POST", f"/accounts/{BEA}/send", {"to": ADA, "text": text})
    assert posted.status == 200, posted


def test_every_event_arrives_signed_through_failures_and_a_restart(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    receiver = Receiver()
    restarted = None
    server, session, events = linked_engine(sim, tmp_path_factory, account, extra=["--toolsets", "all"])
    try:
        url = f"http://127.0.0.1:{receiver.port}/hook"
        hook = call_tool(server, session, "whatsapp_add_webhook", {"url": url, "events": ["message.received"], "secret": SECRET})
        webhook_id = hook["webhook"]["id"]

        # Phase 1: 200, 500 then 200, 429 (Retry-After: 1) then 200, a held request then 200, and 410.
        first = ["m-ok", "m-500", "m-429", "m-timeout", "m-410"]
        for text in first:
            send(sim, text)
        receiver.wait_for(lambda posts: all(answered(posts, t) for t in first if t != "m-410") and answered(posts, "m-410", 410),
                          "phase 1 delivered", timeout=SLOW + DEADLINE)

        # Phase 2: the receiver dies; new events are tried, refused, and wait for a retry.
        receiver.close()
        second = ["d-1", "d-2", "d-3"]
        for text in second:
            send(sim, text)
        wait_until(lambda: sum(1 for d in deliveries(server, session)
                               if d["status"] == "pending" and d["attempts"] >= 1 and d.get("last_error")) >= len(second),
                   "the dead receiver's deliveries tried and pending", lambda: f"; {deliveries(server, session)}")
        pending = {d["id"] for d in deliveries(server, session) if d["status"] == "pending"}
        # Killed mid-retry (no chance to flush anything), then an event while it is down.
        events.stream.close()
        data_dir = server.data_dir
        server.kill()
        send(sim, "while-down")

        # Phase 3: the receiver comes back on its port, the engine on its store: everything arrives.
        receiver = Receiver(receiver.port, receiver.posts)
        restarted = start_engine(tmp_path_factory, sim, data_dir=data_dir, extra=["--toolsets", "all"])
        session = restarted.initialize()[0]
        receiver.wait_for(lambda posts: all(answered(posts, t) for t in second + ["while-down"]), "phase 3 delivered")

        posts = receiver.posts
        # The pending ones went with the ids they had before the restart.
        assert pending <= {h["wause-webhook-id"] for h, _, s in posts if s == 200}
        # Every POST is signed with the secret over timestamp.body, and its id names its event.
        for headers, body, _ in posts:
            signed = headers["wause-webhook-timestamp"].encode() + b"." + headers["_raw"]
            expected = "v1=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(expected, headers["wause-webhook-signature"]), headers
            assert abs(int(headers["wause-webhook-timestamp"]) - time.time()) < 600
            assert headers["wause-webhook-id"] == f"default:{body['cursor']}" and body["name"] == "message.received"
        # Duplicates (the retries) carry the same id; each text is one event.
        by_text: dict[str, set] = {}
        for headers, body, _ in posts:
            by_text.setdefault(text_of(body), set()).add(headers["wause-webhook-id"])
        assert sorted(by_text) == sorted(first + second + ["while-down"])
        assert all(len(ids) == 1 for ids in by_text.values()), by_text
        for text in ("m-500", "m-429", "m-timeout"):
            assert sum(1 for _, b, _ in posts if text_of(b) == text) >= 2, text
        # The 410 was tried once and failed; everything else is delivered, nothing pending.
        assert sum(1 for _, b, _ in posts if text_of(b) == "m-410") == 1

        def settled():
            listed = [d for d in deliveries(restarted, session) if d["webhook"] == webhook_id]
            return listed if listed and all(d["status"] != "pending" for d in listed) else None
        final = wait_until(settled, "every delivery settled")
        assert len(final) == len(by_text)
        failed = [d for d in final if d["status"] == "failed"]
        assert len(failed) == 1 and failed[0]["last_http_status"] == 410 and failed[0]["attempts"] == 1
        assert all(d["status"] == "delivered" for d in final if d not in failed)
        # The retries were logged (at info, wause-mcp's level), and the secret never was.
        logged = "".join(server.log_lines + restarted.log_lines)
        assert "retry at" in logged and SECRET not in logged
    finally:
        receiver.close()
        for engine in (server, restarted):
            if engine is not None and engine.alive():
                engine.kill()
