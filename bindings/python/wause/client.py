"""The synchronous client: one ``wause_client *`` and the calls of include/wause.h on it.

Threading: a :class:`Client` may be used from any number of threads at once (the C library is
thread-safe), including from its own callback. The binding guarantees the one rule the header
leaves to the caller — ``wause_client_destroy`` never overlaps another call on the same client —
by counting calls in flight and letting :meth:`Client.close` wait for them. Waits on the library
(``receive``, ``events``, ``wait_answer``) are made of short bounded waits, so Ctrl-C interrupts
them and ``close()`` from another thread ends them promptly.

Ownership: every string the library returns is copied into Python and released with
``wause_free`` at once; the binding never hands out or keeps a pointer into library memory.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Deque, Dict, Iterator, Mapping, Optional, Union, cast

from ._native import CALLBACK, native, take_string
from .errors import Error, Internal, InvalidRequest, error_class_for, error_from_json
from ._generated import ClientMethods
from .types import Event, EventPage, JSONObject

__all__ = ["Client", "Callback", "version", "catalogue"]

logger = logging.getLogger("wause")

#: What :meth:`Client.set_callback` accepts: called with each item (event or answer) as a dict.
Callback = Callable[[JSONObject], None]

# The longest single wait inside the library. Bounded waits keep Ctrl-C responsive (signal
# handlers only run between foreign calls) and bound how long close() waits for a receiver.
_RECEIVE_SLICE_MS = 100
# How long the interpreter-exit safety net waits for calls in flight before giving up on a client.
_EXIT_GRACE_SECONDS = 2.0

_INT32_MAX = 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_CLOSED_MESSAGE = "client is closed"

# Catalogue methods that wait for something to happen rather than answer at once (see _call_method).
_WAITING_METHODS = frozenset({"whatsapp_wait_for_message"})


def version() -> str:
    """The library version (``wause_version``), e.g. ``"1.2.3"``; ``wause.__version__`` is the
    binding's, from the same VERSION file."""
    return cast(bytes, native().wause_version()).decode("utf-8")


def catalogue() -> JSONObject:
    """The method catalogue, parsed: ``{"methods": [{name, description, input_schema,
    output_schema, annotations}, ...]}`` — the same table MCP serves as tools."""
    text = take_string(native().wause_catalogue())
    if text is None:
        raise Internal("wause_catalogue returned NULL (out of memory)")
    return cast(JSONObject, json.loads(text))


def _result_name(code: int) -> str:
    return cast(bytes, native().wause_result_name(code)).decode("utf-8")


def _is_answer(item: Mapping[str, Any]) -> bool:
    """Answers carry ``request_id``; events carry ``cursor``."""
    return "request_id" in item and "cursor" not in item


def _unwrap_answer(answer: Mapping[str, Any]) -> JSONObject:
    """The result of an answer, or its error raised as the mapped exception."""
    if "error" in answer:
        raise error_from_json(answer["error"])
    return cast(JSONObject, answer.get("result", {}))


def _parse_item(text: bytes) -> JSONObject:
    try:
        item = json.loads(text)
    except ValueError as error:
        raise Internal(f"libwause delivered text that is not JSON: {text[:200]!r}") from error
    if not isinstance(item, dict):
        raise Internal(f"libwause delivered JSON that is not an object: {text[:200]!r}")
    return item


def _c_text(value: Optional[str], what: str) -> Optional[bytes]:
    """UTF-8 for a C string argument. An embedded NUL would silently cut the text short in C, so
    it is refused here instead."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a string, got {type(value).__name__}")
    if "\0" in value:
        raise InvalidRequest(f"{what} must not contain NUL characters")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates have no UTF-8 form
        raise InvalidRequest(f"{what} is not valid Unicode: {error}") from error


def _encode_params(params: Any) -> Optional[str]:
    """JSON text for a params value. Anything JSON can express is passed on — including a value
    that is not an object, so the engine reports that exactly as it would for any caller."""
    if params is None:
        return None
    try:
        return json.dumps(params, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidRequest(f"params cannot be encoded as JSON: {error}") from error


def _check_integer(value: Any, name: str, low: int, high: int, message: str) -> int:
    """Ints the C API takes must fit its C type; ctypes would silently wrap larger ones."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be an integer, got {type(value).__name__}",
                             details={"argument": name})
    if not low <= value <= high:
        raise InvalidRequest(message, details={"argument": name})
    return value


def _deadline(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout):
        raise InvalidRequest(f"timeout must be a number of seconds or None, got {timeout!r}")
    return time.monotonic() + max(0.0, float(timeout))


class _Handle:
    """Owns one ``wause_client *`` and makes its destruction safe.

    Every library call on the client runs inside :meth:`use`, which counts it; :meth:`destroy`
    refuses new calls, waits until the count drops to zero and only then calls
    ``wause_client_destroy``. The C callback thunk lives here too, so it stays referenced until
    the library can no longer call it — however the owning :class:`Client` goes away.
    """

    def __init__(self, pointer: int, thunk: Any) -> None:
        self._pointer: Optional[int] = pointer
        self.thunk = thunk
        self._condition = threading.Condition()
        #: Calls in flight, per thread (``threading.get_ident()``).
        self._users: dict[int, int] = {}
        self._closing = False
        self._destroyed = False
        #: ``{"flushed", "left_queued"}`` from ``wause_client_close``, once destroyed.
        self.close_report: JSONObject = {"flushed": 0, "left_queued": 0}
        #: The thread currently running this client's callback, if any (the callback never runs
        #: concurrently with itself). Calls that would deadlock from there check it.
        self.callback_thread: Optional[int] = None

    @property
    def closed(self) -> bool:
        return self._closing

    def in_callback(self) -> bool:
        return self.callback_thread == threading.get_ident()

    @contextmanager
    def use(self) -> Iterator[int]:
        with self._condition:
            if self._closing or self._pointer is None:
                raise InvalidRequest(_CLOSED_MESSAGE)
            thread = threading.get_ident()
            self._users[thread] = self._users.get(thread, 0) + 1
            pointer = self._pointer
        try:
            yield pointer
        finally:
            with self._condition:
                left = self._users.get(thread, 0) - 1
                if left > 0:
                    self._users[thread] = left
                else:
                    self._users.pop(thread, None)
                    self._condition.notify_all()

    def destroy(self, grace_seconds: Optional[float] = None) -> bool:
        """Closes the client once calls in flight have finished. Idempotent; a concurrent second
        caller waits until the first has finished. With ``grace_seconds``, gives up (leaving the
        client open but refusing new calls, and its callback stopped) if calls are still in
        flight by then; returns whether the client was destroyed."""
        deadline = None if grace_seconds is None else time.monotonic() + grace_seconds
        with self._condition:
            if self._closing:
                if not self._condition.wait_for(lambda: self._destroyed, _remaining(deadline)):
                    return False
                return True
            self._closing = True
            # Calls on other threads are waited for. A count left on this very thread cannot be a
            # call in flight (this thread is here): only a KeyboardInterrupt landing between the
            # count and its `finally` leaves one, and waiting for it would hang close() forever.
            closer = threading.get_ident()
            drained = self._condition.wait_for(lambda: all(thread == closer for thread in self._users),
                                               _remaining(deadline))
            pointer = self._pointer
            if drained:
                self._pointer = None
        if not drained:
            # Still in use (e.g. a long wause_call on a daemon thread at interpreter exit). Stop the
            # callback at least — wause_set_callback may overlap other calls — so the library
            # never calls into an interpreter that is shutting down.
            if pointer is not None and self.thunk is not None:
                native().wause_set_callback(pointer, CALLBACK(), None)
            logger.warning("wause client left open: calls were still in flight after %.1f s", grace_seconds)
            return False
        if pointer is not None:
            # The graceful close flushes the outbox (up to close_timeout_ms) and says what it
            # left queued; destroy then only releases the handle.
            out = ctypes.c_void_p()
            native().wause_client_close(pointer, ctypes.byref(out))
            text = take_string(out.value)
            if text is not None:
                report = json.loads(text)
                if "left_queued" in report:
                    self.close_report = report
            native().wause_client_destroy(pointer)
        with self._condition:
            # The library no longer calls the thunk, so it may go now.
            self.thunk = None
            self._destroyed = True
            self._condition.notify_all()
        return True


def _remaining(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _CallbackSlot:
    """The Python function the C callback forwards to. Swapping ``function`` takes effect for the
    next item; the C side is only told when delivery starts or stops."""

    def __init__(self) -> None:
        self.function: Optional[Callback] = None


def _deliver(function: Callback, item: JSONObject) -> None:
    """Runs the user's callback. Nothing may propagate into C (ctypes would print and drop it
    anyway), so failures are logged on the ``wause`` logger instead."""
    try:
        function(item)
    except BaseException:  # noqa: BLE001 — also KeyboardInterrupt/SystemExit: C cannot unwind them
        # Only the item's identity is logged: its data may hold message text from other people.
        logger.exception("wause callback raised; dropped %s", _describe(item))


def _describe(item: Mapping[str, Any]) -> str:
    """``event #12 message.received`` or ``answer to request 7``, for logs."""
    if _is_answer(item):
        return f"answer to request {item.get('request_id')}"
    return f"event #{item.get('cursor')} {item.get('name')}"


def _make_thunk(slot: _CallbackSlot, handle_ref: "weakref.ref[_Handle]") -> Any:
    """The C-callable trampoline. It references the slot and (weakly) the handle, never the
    Client, so an installed callback does not keep an abandoned Client alive."""

    def trampoline(_user_data: Optional[int], json_text: Optional[bytes]) -> None:
        handle = handle_ref()
        if handle is not None:
            handle.callback_thread = threading.get_ident()
        try:
            function = slot.function
            if function is None or json_text is None:
                return
            try:
                item = _parse_item(json_text)
            except Error:
                logger.exception("wause callback received unreadable JSON")
                return
            _deliver(function, item)
        finally:
            if handle is not None:
                handle.callback_thread = None

    return CALLBACK(trampoline)


def _release_abandoned(handle: _Handle) -> None:
    """Safety net (weakref.finalize): a Client was garbage-collected, or the interpreter is exiting,
    without close(). Destroys the client so its threads stop and its data directory is freed."""
    if handle.in_callback():
        # wause_client_destroy waits for the callback in progress — this very one — so it must
        # run on another thread. That thread keeps the handle, and with it the thunk, alive.
        threading.Thread(target=handle.destroy, name="wause-release", daemon=True).start()
        return
    try:
        handle.destroy(grace_seconds=_EXIT_GRACE_SECONDS)
    except Exception:  # noqa: BLE001 — a finalizer must not raise
        logger.exception("wause: releasing an abandoned client failed")


ConfigArgument = Union[Mapping[str, Any], str, "os.PathLike[str]", None]


class Client(ClientMethods):
    """A wause engine bound to one data directory (one SQLite store).

    Create it with a data directory and any other configuration keys (DESIGN.md
    "Configuration": ``data_dir``, ``log_level``, ``server_url``, ``server_root_key``,
    ``client_version``, ``push_name``, ``toolsets``)::

        with wause.Client(data_dir="/var/lib/bot") as client:        # or Client("/var/lib/bot")
            print(client.status()["state"])

        wause.Client({"data_dir": path, "log_level": "info"})         # a config mapping
        wause.Client.from_json('{"data_dir": "/tmp/w"}')              # raw JSON text

    Keyword arguments override entries of a mapping. Values are passed to the engine unchanged,
    so it alone decides what is valid (bad values raise :class:`wause.InvalidRequest`).

    Results come back two ways:

    - :meth:`call` blocks until the method finishes.
    - :meth:`send` returns a request id at once; its answer (``{"request_id", "result"|"error"}``)
      arrives in the same ordered stream as events, read by :meth:`receive`, :meth:`events`,
      :meth:`wait_answer` — or pushed to a callback (:meth:`set_callback`).

    Items each reader meets but does not want are kept, in order, for the others: answers met by
    :meth:`events` wait for :meth:`wait_answer`/:meth:`receive`, events met by :meth:`wait_answer`
    wait for :meth:`events`/:meth:`receive`. Nothing is dropped until the client closes (the
    engine drops answers still in flight when it closes, too).

    Thread-safe (see the module docstring). Close it with :meth:`close` or a ``with`` block; a
    client that is garbage-collected or still open at interpreter exit is closed by a safety net,
    but relying on that keeps the data directory locked for longer than needed.
    """

    def __init__(self, config: ConfigArgument = None, **options: Any) -> None:
        if config is None:
            merged: Dict[str, Any] = {}
        elif isinstance(config, Mapping):
            merged = dict(config)
        elif isinstance(config, (str, os.PathLike)):
            merged = {"data_dir": config}
        else:
            raise InvalidRequest(f"config must be a mapping or a data directory path, got {type(config).__name__}")
        merged.update(options)
        if isinstance(merged.get("data_dir"), os.PathLike):
            merged["data_dir"] = os.fspath(merged["data_dir"])
        try:
            config_json = json.dumps(merged, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise InvalidRequest(f"config cannot be encoded as JSON: {error}") from error
        self._open(config_json)

    @classmethod
    def from_json(cls, config_json: str) -> "Client":
        """Creates a client from configuration JSON text, passed to ``wause_client_create`` as is."""
        client = cls.__new__(cls)
        client._open(config_json)
        return client

    def _open(self, config_json: str) -> None:
        config_bytes = _c_text(config_json, "config")
        library = native()
        error_out = ctypes.c_void_p()
        pointer = library.wause_client_create(config_bytes, ctypes.byref(error_out))
        error_text = take_string(error_out.value)
        if not pointer:
            if error_text is None:
                raise Internal("wause_client_create failed without an error")
            raise error_from_json(error_text, "internal")
        self._slot = _CallbackSlot()
        self._handle = _Handle(pointer, thunk=None)
        self._handle.thunk = _make_thunk(self._slot, weakref.ref(self._handle))
        self._callback_lock = threading.Lock()
        # Items a reader met but did not want (see the class docstring), in arrival order.
        self._stash: Deque[JSONObject] = deque()
        self._stash_lock = threading.Lock()
        self._id_lock = threading.Lock()
        self._next_request_id = 1
        self._finalizer = weakref.finalize(self, _release_abandoned, self._handle)

    # Lifecycle -----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called (or the safety net closed the client)."""
        return self._handle.closed

    def close(self) -> JSONObject:
        """Closes the client: waits for calls in flight on other threads, then, while the client is
        linked and (re)connecting, up to ``close_timeout_ms`` (config, default 5000) for queued
        messages to go out; stops the callback and the engine's threads, closes the store and
        releases the data directory. Returns ``{"flushed": n, "left_queued": m}`` — the messages
        that went out while it waited and those still queued (they go at the next open).
        Idempotent: later calls return the same report.

        Must not be called from this client's own callback (the library would wait for the
        callback to return, forever): that raises :class:`wause.InvalidRequest`.
        """
        if self._handle.in_callback():
            raise InvalidRequest("close() cannot be called from this client's own callback")
        self._handle.destroy()
        self._finalizer.detach()
        with self._stash_lock:
            self._stash.clear()
        return dict(self._handle.close_report)

    def wait_ready(self, timeout: float) -> JSONObject:
        """Waits up to ``timeout`` seconds for the client to be logged in (``state == "ready"``)
        and returns the status object; raises :class:`wause.WauseTimeout` (code ``timeout``) if it
        is not by then. For "open, then act" programs: right after opening, a linked client is
        still ``starting``."""
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout >= 0:
            raise InvalidRequest("timeout must be a number of seconds, 0 or more")
        deadline = time.monotonic() + timeout
        # Polls the local status (no network) on a deadline: events are the caller's stream, and
        # reading them here would take them from the caller. Short steps keep Ctrl-C responsive.
        step = 0.01
        while True:
            status = self.status()
            if status.get("state") == "ready":
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise error_class_for("timeout")(
                    f"the client was not ready within {timeout:g} s (state {status.get('state')})",
                    code="timeout", details={"state": status.get("state"), "last_error": status.get("last_error")})
            time.sleep(min(step, left))
            step = min(step * 2, 0.1)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<wause.Client {'closed' if self.closed else 'open'}>"

    # Synchronous calls ---------------------------------------------------------------------

    def call(self, method: str, params: Optional[Mapping[str, Any]] = None) -> JSONObject:
        """Calls a catalogue method and waits for its result (``wause_call``).

        ``params`` is the method's argument object (``None`` means none). Raises the mapped
        :class:`wause.Error` subclass on failure. Blocks the calling thread; prefer :meth:`send`
        for methods that wait on the network.
        """
        return self._call_text(method, _encode_params(params))

    def call_raw(self, method: str, params_json: Optional[str]) -> JSONObject:
        """Like :meth:`call`, with the params given as JSON text passed through unchanged (so
        malformed JSON reaches the engine, which reports it as ``invalid_request``)."""
        return self._call_text(method, params_json)

    def _call_text(self, method: str, params_json: Optional[str]) -> JSONObject:
        method_bytes = _c_text(method, "method")
        params_bytes = _c_text(params_json, "params")
        out = ctypes.c_void_p()
        with self._handle.use() as pointer:
            code = native().wause_call(pointer, method_bytes, params_bytes, ctypes.byref(out))
        text = take_string(out.value)
        if code != 0:
            raise error_from_json(text, _result_name(code)) if text else error_class_for(
                _result_name(code))(f"wause_call failed with {_result_name(code)}", _result_name(code))
        if text is None:
            raise Internal("wause_call succeeded without a result")
        return _parse_item(text)

    # The catalogue's methods (status(), send_message(), ...) are generated into ClientMethods
    # (_generated.py); each goes through _call_method.

    def _call_method(self, method: str, params: Optional[Dict[str, Any]]) -> JSONObject:
        """Runs a generated method. Methods that wait (``whatsapp_wait_for_message``) are sent and
        their answer awaited in short slices, so Ctrl-C interrupts them (the engine then finishes the
        wait on its own); with a callback installed, or from the callback, they wait in the library."""
        if method in _WAITING_METHODS and self._slot.function is None and not self._handle.in_callback():
            return self.wait_answer(self.send(method, params))
        return self.call(method, params)

    # Asynchronous calls --------------------------------------------------------------------

    def send(self, method: str, params: Optional[Mapping[str, Any]] = None,
             request_id: Optional[int] = None) -> int:
        """Starts a call without waiting (``wause_send``) and returns its request id.

        Ids are allocated from a per-client counter starting at 1; an explicit ``request_id``
        moves the counter past it, so later automatic ids never repeat it. The answer — also for
        errors about the method or its params — arrives later as ``{"request_id": id, "result":
        {...}}`` or ``{"request_id": id, "error": {...}}``; see :meth:`wait_answer`.
        """
        return self._send_text(method, _encode_params(params), request_id)

    def send_raw(self, method: str, params_json: Optional[str], request_id: Optional[int] = None) -> int:
        """Like :meth:`send`, with the params given as JSON text passed through unchanged."""
        return self._send_text(method, params_json, request_id)

    def _send_text(self, method: str, params_json: Optional[str], request_id: Optional[int]) -> int:
        method_bytes = _c_text(method, "method")
        params_bytes = _c_text(params_json, "params")
        with self._id_lock:
            if request_id is None:
                request_id = self._next_request_id
                self._next_request_id += 1
            else:
                _check_integer(request_id, "request_id", _INT64_MIN, _INT64_MAX,
                               "request_id must fit in a signed 64-bit integer")
                self._next_request_id = max(self._next_request_id, request_id + 1)
        with self._handle.use() as pointer:
            code = native().wause_send(pointer, request_id, method_bytes, params_bytes)
        if code != 0:
            name = _result_name(code)
            raise error_class_for(name)(f"wause_send refused the call ({name})", name)
        return request_id

    def wait_answer(self, request_id: int, timeout: Optional[float] = None) -> JSONObject:
        """Waits for the answer to :meth:`send`'s ``request_id`` and returns its result, or raises
        its error as the mapped :class:`wause.Error`.

        Other items met while waiting are kept for :meth:`receive`/:meth:`events`/other waiters.
        Raises Python's ``TimeoutError`` if no answer arrives within ``timeout`` seconds (``None``:
        no limit), and :class:`wause.InvalidRequest` if the client closes meanwhile or a callback
        is installed (answers then go to the callback).
        """
        deadline = _deadline(timeout)
        self._require_receiving("wait_answer()")

        def is_wanted(item: JSONObject) -> bool:
            return _is_answer(item) and item.get("request_id") == request_id

        item = self._next_item(deadline, is_wanted)
        if item is None:
            if self.closed:
                raise InvalidRequest(_CLOSED_MESSAGE)
            raise TimeoutError(f"no answer to request {request_id} within {timeout} s")
        return _unwrap_answer(item)

    # The delivery stream -------------------------------------------------------------------

    def receive(self, timeout: Optional[float] = None) -> Optional[JSONObject]:
        """The next item — an answer or an event — waiting up to ``timeout`` seconds (``0``: don't
        wait; ``None``: until one arrives). Returns ``None`` on timeout, or when the client is
        closed (by another thread) while waiting.

        Wraps ``wause_receive`` in short bounded waits, so Ctrl-C works during ``receive()``.
        Raises :class:`wause.InvalidRequest` if a callback is installed (items go there instead)
        or the client is already closed.
        """
        deadline = _deadline(timeout)
        self._require_receiving("receive()")
        return self._next_item(deadline, lambda item: True)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events (``{cursor, name, ts, data}``) as they are delivered: those logged
        after the client was created, in cursor order.

        Iteration ends after ``timeout`` seconds in total (``None``: no limit) or when the client
        is closed. Answers to :meth:`send` met while iterating are kept for :meth:`wait_answer`
        and :meth:`receive`, never yielded. To catch up on older events use :meth:`iter_log`.
        """
        deadline = _deadline(timeout)
        self._require_receiving("events()")
        return self._iterate_events(deadline)

    def _iterate_events(self, deadline: Optional[float]) -> Iterator[Event]:
        while True:
            event = self._next_item(deadline, lambda item: not _is_answer(item))
            if event is None:
                return
            yield cast(Event, event)

    def _require_receiving(self, what: str) -> None:
        if self.closed:
            raise InvalidRequest(_CLOSED_MESSAGE)
        if self._slot.function is not None:
            raise InvalidRequest(f"{what} is unavailable while a callback is installed: items go to the callback")

    def _next_item(self, deadline: Optional[float], is_wanted: Callable[[JSONObject], bool]) -> Optional[JSONObject]:
        """The first item ``is_wanted`` accepts — from the stash, else from the library (stashing
        the others, in order) — or None on timeout or once the client is closed.

        The stash is checked before every bounded wait, because another thread's reader may have
        set aside exactly the item this one is waiting for.
        """
        first_attempt = True
        while True:
            with self._stash_lock:
                for index, stashed in enumerate(self._stash):
                    if is_wanted(stashed):
                        del self._stash[index]
                        return stashed
            if deadline is None:
                wait_ms = _RECEIVE_SLICE_MS
            else:
                remaining_ms = math.ceil((deadline - time.monotonic()) * 1000)
                if remaining_ms <= 0 and not first_attempt:
                    return None
                wait_ms = max(0, min(_RECEIVE_SLICE_MS, remaining_ms))
            first_attempt = False
            if self.closed:
                return None
            if self._slot.function is not None:
                # wause_receive returns NULL at once while a callback is set; waiting on would spin.
                raise InvalidRequest("a callback was installed while waiting: items go to the callback now")
            try:
                with self._handle.use() as pointer:
                    text = take_string(native().wause_receive(pointer, wait_ms))
            except InvalidRequest:
                if self.closed:
                    return None
                raise
            if text is None:
                continue
            item = _parse_item(text)
            if is_wanted(item):
                return item
            with self._stash_lock:
                self._stash.append(item)

    def set_callback(self, function: Optional[Callback]) -> None:
        """Pushes every item (events and answers, as dicts) to ``function`` instead of
        :meth:`receive`; ``None`` stops that and items queue for :meth:`receive` again.

        The function runs on a thread the engine owns, never concurrently with itself, in arrival
        order. It may call this client's methods except :meth:`close` and :meth:`set_callback`.
        Exceptions it raises are logged on the ``wause`` logger and the item is dropped — they
        never reach the C library. Items that readers had kept aside (see the class docstring)
        are handed to ``function`` first, on the calling thread, so nothing is stranded.
        Replacing one function with another takes effect from the next item.
        """
        if function is not None and not callable(function):
            raise TypeError(f"callback must be callable or None, got {type(function).__name__}")
        if self._handle.in_callback():
            raise InvalidRequest("set_callback() cannot be called from this client's own callback")
        with self._callback_lock:
            if function is None:
                if self._slot.function is None:
                    return
                # Stop the library first: it waits for a callback in progress, so every item it
                # had taken still reaches the old function.
                self._set_native_callback(CALLBACK())
                self._slot.function = None
                return
            if self._slot.function is not None:
                self._slot.function = function
                return
            # Handing over kept items counts as running the callback, so close()/set_callback()
            # from inside it are refused here too instead of deadlocking on _callback_lock.
            self._handle.callback_thread = threading.get_ident()
            try:
                while True:
                    with self._stash_lock:
                        if not self._stash:
                            break
                        item = self._stash.popleft()
                    _deliver(function, item)
            finally:
                self._handle.callback_thread = None
            self._slot.function = function
            try:
                self._set_native_callback(self._handle.thunk)
            except BaseException:
                self._slot.function = None
                raise

    def _set_native_callback(self, thunk: Any) -> None:
        with self._handle.use() as pointer:
            code = native().wause_set_callback(pointer, thunk, None)
        if code != 0:
            name = _result_name(code)
            raise error_class_for(name)(f"wause_set_callback failed ({name})", name)

    # The event log -------------------------------------------------------------------------

    def replay(self, after_cursor: int = 0, limit: int = 100) -> EventPage:
        """One page of the event log (``wause_events``): up to ``limit`` (1..1000) events with a
        cursor above ``after_cursor``, oldest first, as ``{"events", "next_cursor", "has_more"}``.
        Pass ``next_cursor`` back as ``after_cursor`` for the next page."""
        _check_integer(after_cursor, "after_cursor", _INT64_MIN, _INT64_MAX,
                       "after_cursor must fit in a signed 64-bit integer")
        _check_integer(limit, "limit", -_INT32_MAX - 1, _INT32_MAX, "limit must be between 1 and 1000")
        out = ctypes.c_void_p()
        with self._handle.use() as pointer:
            code = native().wause_events(pointer, after_cursor, limit, ctypes.byref(out))
        text = take_string(out.value)
        if code != 0:
            raise error_from_json(text, _result_name(code)) if text else error_class_for(
                _result_name(code))(f"wause_events failed with {_result_name(code)}", _result_name(code))
        if text is None:
            raise Internal("wause_events succeeded without a result")
        return cast(EventPage, _parse_item(text))

    def iter_log(self, after_cursor: int = 0, page_size: int = 100) -> Iterator[Event]:
        """Every logged event with a cursor above ``after_cursor``, oldest first, fetched
        ``page_size`` at a time until the log is exhausted. Independent of :meth:`events`."""
        first_page = self.replay(after_cursor, page_size)  # validates the arguments right away
        return self._iterate_log(first_page, page_size)

    def _iterate_log(self, page: EventPage, page_size: int) -> Iterator[Event]:
        while True:
            yield from page["events"]
            if not page["has_more"]:
                return
            page = self.replay(page["next_cursor"], page_size)
