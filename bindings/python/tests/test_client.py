"""wause.Client against the real library: the status contract, configuration and request
errors, synchronous and asynchronous calls, callbacks, several clients, and closing."""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import stat
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import wause

# -- status contract ---------------------------------------------------------------------------


def test_status_matches_the_contract_exactly(client: wause.Client, data_dir: Path) -> None:
    status = client.status()
    assert status == {
        "state": "stopped",
        "ready": False,
        "authenticated": False,
        "has_qr": False,
        "last_error": None,
        "account": None,
        "data_dir": str(data_dir.resolve()),
        "store": {"chats": 0, "messages": 0, "unread": 0, "pending_approvals": 0},
    }
    # JSON types, not just values: bools are bools and counts are ints (bool is an int subclass).
    for key in ("ready", "authenticated", "has_qr"):
        assert type(status[key]) is bool
    for count in status["store"].values():
        assert type(count) is int
    assert type(status["state"]) is str and type(status["data_dir"]) is str


def test_status_reports_an_absolute_data_dir_for_a_relative_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with wause.Client(data_dir="relative-store") as client:
        assert client.status()["data_dir"] == str((tmp_path / "relative-store").resolve())


def test_store_is_created_private(client: wause.Client, data_dir: Path) -> None:
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    database = data_dir / "wause.db"
    assert database.is_file()
    assert stat.S_IMODE(os.stat(database).st_mode) == 0o600
    for companion in data_dir.glob("wause.db-*"):  # WAL and shared-memory files hold data too
        assert stat.S_IMODE(os.stat(companion).st_mode) == 0o600, companion


def test_config_forms_are_equivalent(tmp_path: Path) -> None:
    for index, make in enumerate([
        lambda path: wause.Client(path),
        lambda path: wause.Client(Path(path)),
        lambda path: wause.Client(data_dir=Path(path)),
        lambda path: wause.Client({"data_dir": path, "log_level": "error"}),
        lambda path: wause.Client({"data_dir": "ignored"}, data_dir=path),
        lambda path: wause.Client.from_json(json.dumps({"data_dir": path})),
    ]):
        path = str(tmp_path / f"store{index}")
        with make(path) as client:
            assert client.status()["data_dir"] == path


def test_all_documented_config_keys_are_accepted(data_dir: Path) -> None:
    with wause.Client(data_dir=str(data_dir), log_level="error", server_url="ws://127.0.0.1:1/ws/chat",
                      server_root_key="11" * 32, client_version="2.3000.1045649367",
                      push_name="Test Bot") as client:
        assert client.status()["state"] == "stopped"


# -- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize("config, key", [
    ({}, "data_dir"),
    ({"log_level": "info"}, "data_dir"),
    ({"data_dir": "/tmp/x", "colour": "blue"}, "colour"),
    ({"data_dir": 42}, "data_dir"),
    ({"data_dir": "/tmp/x", "log_level": 3}, "log_level"),
    ({"data_dir": "/tmp/x", "log_level": "loud"}, "log_level"),
    ({"data_dir": "/tmp/x", "server_root_key": "abc"}, "server_root_key"),
    ({"data_dir": "/tmp/x", "server_root_key": "zz" * 32}, "server_root_key"),
    ({"data_dir": "/tmp/x", "server_url": "http://example.invalid"}, "server_url"),
    ({"data_dir": "/tmp/x", "client_version": "two"}, "client_version"),
])
def test_bad_config_is_invalid_request(config: Dict[str, Any], key: str) -> None:
    with pytest.raises(wause.InvalidRequest) as raised:
        wause.Client(config)
    error = raised.value
    assert error.code == "invalid_request"
    assert key in error.message
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("text", ["", "{", "not json", "[1, 2]", "null", '"data_dir"', "{\"data_dir\": }"])
def test_config_that_is_not_a_json_object_is_invalid_request(text: str) -> None:
    with pytest.raises(wause.InvalidRequest):
        wause.Client.from_json(text)


def test_config_values_python_cannot_encode_are_invalid_request(data_dir: Path) -> None:
    with pytest.raises(wause.InvalidRequest):
        wause.Client(data_dir=str(data_dir), push_name={1, 2})
    with pytest.raises(wause.InvalidRequest):
        wause.Client.from_json('{"data_dir": "/tmp/a\0b"}')
    with pytest.raises(wause.InvalidRequest):
        wause.Client(12345)  # type: ignore[arg-type]


def test_unopenable_store_is_internal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(wause.Error) as raised:
        wause.Client(data_dir=str(blocker / "store"))
    assert raised.value.code in ("internal", "invalid_request")


# -- request errors ----------------------------------------------------------------------------


def test_unknown_method_is_invalid_request(client: wause.Client) -> None:
    with pytest.raises(wause.InvalidRequest) as raised:
        client.call("whatsapp_fly_to_the_moon")
    assert "whatsapp_fly_to_the_moon" in raised.value.message
    assert raised.value.details == {"method": "whatsapp_fly_to_the_moon"}


def test_unknown_method_wins_over_bad_params(client: wause.Client) -> None:
    with pytest.raises(wause.InvalidRequest) as raised:
        client.call_raw("no_such_method", "{broken")
    assert "no_such_method" in raised.value.message


@pytest.mark.parametrize("params", [{"limit": "x"}, {"limit": 5}, {"phone_number": None}])
def test_arguments_status_does_not_take_are_invalid_request(client: wause.Client, params: Dict[str, Any]) -> None:
    with pytest.raises(wause.InvalidRequest) as raised:
        client.call("whatsapp_status", params)
    assert raised.value.details is not None and raised.value.details.get("path", "").startswith("$.")


@pytest.mark.parametrize("params", [[1, 2], [], "text", 7, True])
def test_params_that_are_not_an_object_are_invalid_request(client: wause.Client, params: Any) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.call("whatsapp_status", params)


@pytest.mark.parametrize("text", ["{", "{'a': 1}", "[1,", "nul", "{\"a\": 1} trailing", "\ud83d"])
def test_malformed_params_json_is_invalid_request(client: wause.Client, text: str) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.call_raw("whatsapp_status", text)


@pytest.mark.parametrize("text", [None, "", "   ", "{}", "\n{ }\t"])
def test_empty_params_mean_no_arguments(client: wause.Client, text: Any) -> None:
    assert client.call_raw("whatsapp_status", text)["state"] == "stopped"


def test_params_python_cannot_encode_are_invalid_request(client: wause.Client) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.call("whatsapp_status", {"when": object()})
    with pytest.raises(wause.InvalidRequest):
        client.call("whatsapp_status", {"ratio": float("nan")})


def test_method_names_c_cannot_carry_are_invalid_request(client: wause.Client) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.call("whatsapp_status\0extra")
    with pytest.raises(wause.InvalidRequest):
        client.call(None)  # type: ignore[arg-type]
    with pytest.raises(wause.InvalidRequest):
        client.call("")


def test_client_survives_a_storm_of_bad_requests(client: wause.Client) -> None:
    bad_inputs = ["{", "[", "]", "{\"\": \"\"}", "\"", "{\"a\":" * 50, "x" * 10000, "{\"a\": 1e999}"]
    for text in bad_inputs:
        for method in ("whatsapp_status", "", "x" * 1000, "whatsapp_status "):
            with pytest.raises(wause.InvalidRequest):
                client.call_raw(method, text)
    assert client.status()["state"] == "stopped"


# -- error model -------------------------------------------------------------------------------


CODES_AND_CLASSES = [
    ("invalid_request", wause.InvalidRequest), ("not_found", wause.NotFound),
    ("ambiguous_recipient", wause.AmbiguousRecipient), ("whatsapp_not_paired", wause.WhatsAppNotPaired),
    ("not_connected", wause.NotConnected), ("pairing_failed", wause.PairingFailed),
    ("rate_limited", wause.RateLimited), ("edit_window_expired", wause.EditWindowExpired),
    ("media_too_large", wause.MediaTooLarge), ("forbidden_path", wause.ForbiddenPath),
    ("timeout", wause.WauseTimeout), ("client_outdated", wause.ClientOutdated),
    ("logged_out", wause.LoggedOut), ("internal", wause.Internal),
    ("not_on_whatsapp", wause.NotOnWhatsApp), ("idempotency_conflict", wause.IdempotencyConflict),
    ("forbidden_recipient", wause.ForbiddenRecipient), ("reach_out_restricted", wause.ReachOutRestricted),
    ("stale_device_session", wause.StaleDeviceSession), ("not_a_participant", wause.NotAParticipant),
]


@pytest.mark.parametrize("code, cls", CODES_AND_CLASSES)
def test_every_documented_code_has_its_class(code: str, cls: type) -> None:
    error = wause.error_from_json({"code": code, "message": "m", "details": {"k": 1}})
    assert type(error) is cls and isinstance(error, wause.Error)
    assert (error.code, error.message, error.details) == (code, "m", {"k": 1})
    assert str(error) == f"{code}: m"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls and copy.to_dict() == error.to_dict()


def test_result_codes_match_the_c_enumeration() -> None:
    from wause.client import _result_name
    assert [_result_name(value) for value in range(21)] == ["ok"] + [code for code, _ in CODES_AND_CLASSES]
    assert _result_name(21) == "unknown"


def test_unknown_codes_map_to_the_base_class() -> None:
    error = wause.error_from_json('{"code": "brand_new_code", "message": "later"}')
    assert type(error) is wause.Error and error.code == "brand_new_code" and error.details is None
    garbled = wause.error_from_json(b"\xff not json", fallback_code="internal")
    assert type(garbled) is wause.Internal


# -- asynchronous calls ------------------------------------------------------------------------


def test_send_answer_arrives_through_receive(client: wause.Client) -> None:
    request_id = client.send("whatsapp_status", request_id=4242)
    assert request_id == 4242
    answer = client.receive(timeout=5)
    assert answer is not None
    assert answer["request_id"] == 4242
    assert answer["result"]["state"] == "stopped"
    assert "error" not in answer


def test_send_errors_arrive_as_answers(client: wause.Client) -> None:
    first = client.send("whatsapp_nothing")
    second = client.send_raw("whatsapp_status", "{bad json")
    answers = {answer["request_id"]: answer for answer in (client.receive(5), client.receive(5)) if answer}
    assert set(answers) == {first, second}
    for answer in answers.values():
        assert answer["error"]["code"] == "invalid_request"
    with pytest.raises(wause.InvalidRequest):
        client.wait_answer(client.send("whatsapp_status", [1]), timeout=5)


def test_request_ids_increase_and_skip_explicit_ones(client: wause.Client) -> None:
    assert client.send("whatsapp_status") == 1
    assert client.send("whatsapp_status") == 2
    assert client.send("whatsapp_status", request_id=10) == 10
    assert client.send("whatsapp_status") == 11
    assert client.send("whatsapp_status", request_id=-5) == -5
    assert client.send("whatsapp_status") == 12
    with pytest.raises(wause.InvalidRequest):
        client.send("whatsapp_status", request_id=2**63)
    with pytest.raises(wause.InvalidRequest):
        client.send("whatsapp_status", request_id="7")  # type: ignore[arg-type]


def test_wait_answer_keeps_other_answers_for_later(client: wause.Client) -> None:
    ids = [client.send("whatsapp_status") for _ in range(5)]
    assert client.wait_answer(ids[-1], timeout=5)["state"] == "stopped"
    for request_id in ids[:-1]:
        assert client.wait_answer(request_id, timeout=5)["ready"] is False
    assert client.receive(timeout=0) is None


def test_wait_answer_times_out_with_python_timeout_error(client: wause.Client) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.wait_answer(999, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2


def test_receive_timeouts(client: wause.Client) -> None:
    assert client.receive(timeout=0) is None
    started = time.monotonic()
    assert client.receive(timeout=0.25) is None
    assert 0.2 <= time.monotonic() - started < 2
    with pytest.raises(wause.InvalidRequest):
        client.receive(timeout="soon")  # type: ignore[arg-type]


def test_many_threads_calling_at_once(client: wause.Client) -> None:
    failures: List[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(20):
                assert client.status()["state"] == "stopped"
                assert client.wait_answer(client.send("whatsapp_status"), timeout=10)["has_qr"] is False
        except BaseException as error:  # noqa: BLE001 — reported below
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures


# -- callbacks ---------------------------------------------------------------------------------


def test_callback_receives_answers_on_an_engine_thread(client: wause.Client) -> None:
    received: List[Dict[str, Any]] = []
    threads: List[threading.Thread] = []
    arrived = threading.Event()

    def on_item(item: Dict[str, Any]) -> None:
        received.append(item)
        threads.append(threading.current_thread())
        arrived.set()

    client.set_callback(on_item)
    request_id = client.send("whatsapp_status", request_id=77)
    assert arrived.wait(5)
    assert received[0]["request_id"] == request_id == 77
    assert received[0]["result"]["state"] == "stopped"
    assert threads[0] is not threading.main_thread()
    assert threads[0].ident != threading.get_ident()


def test_callback_blocks_receive_until_removed(client: wause.Client) -> None:
    client.set_callback(lambda item: None)
    for read in (lambda: client.receive(0), lambda: client.wait_answer(1, 0), lambda: next(client.events(0))):
        with pytest.raises(wause.InvalidRequest, match="callback"):
            read()
    client.set_callback(None)
    client.set_callback(None)  # removing twice is harmless
    request_id = client.send("whatsapp_status")
    assert client.wait_answer(request_id, timeout=5)["state"] == "stopped"


def test_callback_exceptions_are_logged_not_raised(client: wause.Client, caplog: pytest.LogCaptureFixture) -> None:
    calls = threading.Semaphore(0)

    def explode(item: Dict[str, Any]) -> None:
        calls.release()
        raise RuntimeError("boom from the callback")

    with caplog.at_level(logging.ERROR, logger="wause"):
        client.set_callback(explode)
        client.send("whatsapp_status")
        client.send("whatsapp_status")
        assert calls.acquire(timeout=5) and calls.acquire(timeout=5)  # delivery went on after the first
        client.set_callback(None)  # waits for the callback in progress, so the log is complete
    assert "boom from the callback" in caplog.text
    assert client.status()["state"] == "stopped"


def test_callback_may_call_the_client_but_not_close_or_replace_it(client: wause.Client) -> None:
    outcomes: Dict[str, Any] = {}
    done = threading.Event()

    def on_item(item: Dict[str, Any]) -> None:
        outcomes["status"] = client.status()["state"]
        outcomes["replay"] = client.replay()["events"]
        for name, action in (("close", client.close), ("set_callback", lambda: client.set_callback(None))):
            try:
                action()
            except wause.InvalidRequest as error:
                outcomes[name] = error.message
        done.set()

    client.set_callback(on_item)
    client.send("whatsapp_status")
    assert done.wait(5)
    assert outcomes["status"] == "stopped" and outcomes["replay"] == []
    assert "own callback" in outcomes["close"] and "own callback" in outcomes["set_callback"]
    assert not client.closed


def test_replacing_the_callback_switches_delivery(client: wause.Client) -> None:
    first: List[int] = []
    second: List[int] = []
    arrived = threading.Event()
    client.set_callback(lambda item: first.append(item["request_id"]))
    client.set_callback(lambda item: (second.append(item["request_id"]), arrived.set()))
    client.send("whatsapp_status", request_id=5)
    assert arrived.wait(5)
    assert first == [] and second == [5]
    with pytest.raises(TypeError):
        client.set_callback("not callable")  # type: ignore[arg-type]


def test_items_kept_aside_go_to_a_new_callback_first(client: wause.Client) -> None:
    ids = [client.send("whatsapp_status") for _ in range(2)]
    assert list(client.events(timeout=0.5)) == []  # it meets both answers and keeps them aside
    received: List[int] = []
    callers: List[threading.Thread] = []

    def on_item(item: Dict[str, Any]) -> None:
        received.append(item["request_id"])
        callers.append(threading.current_thread())

    client.set_callback(on_item)
    assert sorted(received) == ids  # handed over during set_callback, on this thread
    assert callers == [threading.current_thread()] * 2
    client.set_callback(None)
    assert client.receive(timeout=0) is None


def test_close_with_a_callback_installed(data_dir: Path) -> None:
    client = wause.Client(data_dir=str(data_dir))
    client.set_callback(lambda item: time.sleep(0.05))
    for _ in range(10):
        client.send("whatsapp_status")
    client.close()
    assert client.closed


# -- several clients ---------------------------------------------------------------------------


def test_two_clients_with_different_data_dirs(tmp_path: Path) -> None:
    with wause.Client(data_dir=str(tmp_path / "a")) as first, wause.Client(data_dir=str(tmp_path / "b")) as second:
        assert first.status()["data_dir"] == str(tmp_path / "a")
        assert second.status()["data_dir"] == str(tmp_path / "b")
        first_id = first.send("whatsapp_status", request_id=1)
        second_id = second.send("whatsapp_status", request_id=1)
        assert first.wait_answer(first_id, 5)["data_dir"] == str(tmp_path / "a")
        assert second.wait_answer(second_id, 5)["data_dir"] == str(tmp_path / "b")


def test_same_data_dir_twice_is_invalid_request(data_dir: Path) -> None:
    with wause.Client(data_dir=str(data_dir)):
        with pytest.raises(wause.InvalidRequest) as raised:
            wause.Client(data_dir=str(data_dir))
        assert "already in use" in raised.value.message
        assert raised.value.details == {"data_dir": str(data_dir)}
    with wause.Client(data_dir=str(data_dir)) as reopened:  # released by close()
        assert reopened.status()["state"] == "stopped"


# -- closing -----------------------------------------------------------------------------------


def test_close_is_idempotent_and_later_use_is_a_clear_error(data_dir: Path) -> None:
    client = wause.Client(data_dir=str(data_dir))
    client.close()
    client.close()
    assert client.closed and "closed" in repr(client)
    uses = [
        lambda: client.status(), lambda: client.call("whatsapp_status"),
        lambda: client.call_raw("whatsapp_status", "{}"), lambda: client.send("whatsapp_status"),
        lambda: client.receive(0), lambda: client.receive(), lambda: client.wait_answer(1),
        lambda: client.events(), lambda: client.replay(), lambda: client.iter_log(),
        lambda: client.set_callback(lambda item: None),
    ]
    for use in uses:
        with pytest.raises(wause.InvalidRequest) as raised:
            use()
        assert raised.value.message == "client is closed"


def test_close_from_another_thread_ends_a_blocking_receive(client: wause.Client) -> None:
    results: List[Any] = []
    reader = threading.Thread(target=lambda: results.append(client.receive(None)))
    reader.start()
    time.sleep(0.2)
    started = time.monotonic()
    client.close()
    reader.join(5)
    assert not reader.is_alive()
    assert results == [None]
    assert time.monotonic() - started < 2


def test_close_waits_for_calls_in_flight(client: wause.Client) -> None:
    stop = threading.Event()
    errors: List[BaseException] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                client.status()
            except wause.InvalidRequest as error:
                if error.message != "client is closed":
                    errors.append(error)
                return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    client.close()
    stop.set()
    for thread in threads:
        thread.join(5)
    assert not errors


def test_abandoned_client_is_closed_by_the_garbage_collector(data_dir: Path) -> None:
    client = wause.Client(data_dir=str(data_dir))
    client.set_callback(lambda item: None)
    del client
    gc.collect()
    with wause.Client(data_dir=str(data_dir)) as reopened:  # the directory lock was released
        assert reopened.status()["state"] == "stopped"


def test_client_open_at_exit_is_closed_cleanly(tmp_path: Path) -> None:
    import subprocess
    import sys
    from conftest import library_env
    code = (
        "import threading, wause\n"
        f"client = wause.Client(data_dir={str(tmp_path / 'store')!r})\n"
        "client.set_callback(lambda item: None)\n"
        "for _ in range(50): client.send('whatsapp_status')\n"
        f"other = wause.Client(data_dir={str(tmp_path / 'other')!r})\n"
        "threading.Thread(target=other.receive, daemon=True).start()\n"
        "print('leaving')\n")
    result = subprocess.run([sys.executable, "-c", code], env=library_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "leaving"
