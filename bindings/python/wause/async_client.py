"""The asyncio client: the same engine and methods as :class:`wause.Client`, awaited.

One delivery mechanism serves everything: the library's callback (``wause_set_callback``) runs on
an engine thread and hands each item to the event loop with ``loop.call_soon_threadsafe``. There,
answers resolve the future of the :meth:`AsyncClient.call` that sent them, and events go to a
buffer that :meth:`AsyncClient.events` / :meth:`AsyncClient.next_event` read. No thread of ours
polls, and no loop thread ever blocks waiting on the library.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from typing import Any, AsyncIterator, Deque, Dict, Mapping, Optional, cast

from ._generated import AsyncClientMethods
from .client import (_INT32_MAX, _INT64_MAX, _INT64_MIN, _CLOSED_MESSAGE, Client, ConfigArgument,
                     _check_integer, _describe, _encode_params, _is_answer, _unwrap_answer)
from .errors import Error, InvalidRequest, error_class_for
from .types import Event, EventPage, JSONObject

__all__ = ["AsyncClient"]

logger = logging.getLogger("wause")

_DEFAULT_MAX_BUFFERED_EVENTS = 10_000
# wause_events' own maximum page, used when refilling events dropped from a full buffer.
_MAX_REPLAY_PAGE = 1000


def _dispatch_to(client_ref: "weakref.ref[AsyncClient]", item: JSONObject) -> None:
    client = client_ref()
    if client is not None:
        client._dispatch(item)


class AsyncClient(AsyncClientMethods):
    """An asyncio wause client. Create it inside a running event loop and use it from that loop::

        async with wause.AsyncClient(data_dir=path) as client:
            status = await client.status()
            async for event in client.events(timeout=10):
                print(event["name"], event["data"])

    Configuration is exactly as for :class:`wause.Client` (a data directory path, a config mapping
    and/or keyword config keys; :meth:`from_json` for raw JSON text). ``max_buffered_events``
    bounds the memory events take while nobody reads them: past it the oldest are dropped from
    memory — not lost, because every event is in the store's log, and :meth:`next_event` reads
    dropped ones back from the log, so consumers still see every event once, in cursor order.

    Not thread-safe: use it from the loop it was created on (the engine's thread only ever talks
    to that loop through ``call_soon_threadsafe``). Each event is handed to exactly one reader.
    """

    def __init__(self, config: ConfigArgument = None, *,
                 max_buffered_events: int = _DEFAULT_MAX_BUFFERED_EVENTS, **options: Any) -> None:
        loop = _running_loop()
        _check_buffer_size(max_buffered_events)
        self._adopt(Client(config, **options), loop, max_buffered_events)

    @classmethod
    def from_json(cls, config_json: str, *,
                  max_buffered_events: int = _DEFAULT_MAX_BUFFERED_EVENTS) -> "AsyncClient":
        """Creates a client from configuration JSON text, passed to the library as is."""
        loop = _running_loop()
        _check_buffer_size(max_buffered_events)
        client = cls.__new__(cls)
        client._adopt(Client.from_json(config_json), loop, max_buffered_events)
        return client

    def _adopt(self, client: Client, loop: asyncio.AbstractEventLoop, max_buffered_events: int) -> None:
        self._client = client
        self._loop = loop
        self._closed = False
        self._pending: Dict[int, "asyncio.Future[JSONObject]"] = {}
        self._max_buffered_events = max_buffered_events
        self._buffer: Deque[Event] = deque()
        # Cursor bookkeeping for events dropped from a full buffer (read back from the log):
        self._first_cursor: Optional[int] = None  # the first event delivered to this client
        self._dropped_through = 0                 # the newest cursor dropped from the buffer
        self._position = 0                        # the newest cursor handed to a reader
        self._refill: Deque[Event] = deque()
        self._refill_task: Optional["asyncio.Task[None]"] = None
        self._wakeup = asyncio.Event()

        # The engine thread must not keep an abandoned AsyncClient alive, hence the weak reference.
        client_ref = weakref.ref(self)

        def forward(item: JSONObject) -> None:
            try:
                loop.call_soon_threadsafe(_dispatch_to, client_ref, item)
            except RuntimeError:
                pass  # the loop is closed: nobody is left to await this item

        try:
            client.set_callback(forward)
        except BaseException:
            client.close()
            raise

    # Delivery (loop thread) ------------------------------------------------------------------

    def _dispatch(self, item: JSONObject) -> None:
        if self._closed:
            return
        if _is_answer(item):
            future = self._pending.pop(item.get("request_id"), None)  # type: ignore[arg-type]
            if future is None or future.done():
                logger.debug("wause: dropping %s: nobody awaits it", _describe(item))
                return
            try:
                future.set_result(_unwrap_answer(item))
            except Error as error:
                future.set_exception(error)
            return
        event = cast(Event, item)
        if self._first_cursor is None:
            self._first_cursor = event["cursor"]
        self._buffer.append(event)
        if len(self._buffer) > self._max_buffered_events:
            dropped = self._buffer.popleft()
            self._dropped_through = max(self._dropped_through, dropped["cursor"])
        self._wakeup.set()

    # Lifecycle -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> JSONObject:
        """Closes the client, first waiting up to ``close_timeout_ms`` (config, default 5000) for
        queued messages to go out, and returns ``{"flushed": n, "left_queued": m}`` (see
        :meth:`wause.Client.close`). Calls still awaiting an answer raise
        :class:`wause.InvalidRequest` ("client is closed"); event iterators end. Idempotent."""
        if self._closed:
            return self._client.close()
        self._closed = True
        try:
            # On a worker thread: the flush may take up to close_timeout_ms, and the loop must keep
            # running meanwhile (our callback only hands items to it, never blocks on it).
            return await asyncio.to_thread(self._client.close)
        finally:
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(InvalidRequest(_CLOSED_MESSAGE))
            self._buffer.clear()
            self._refill.clear()
            self._wakeup.set()

    async def close(self) -> JSONObject:
        """The same as :meth:`aclose`."""
        return await self.aclose()

    async def wait_ready(self, timeout: float) -> JSONObject:
        """Waits up to ``timeout`` seconds for ``state == "ready"`` and returns the status object;
        raises :class:`wause.WauseTimeout` (code ``timeout``) otherwise (see
        :meth:`wause.Client.wait_ready`)."""
        self._require_open()
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout >= 0:
            raise InvalidRequest("timeout must be a number of seconds, 0 or more")
        deadline = self._loop.time() + timeout
        # Local status polls on a deadline, not the event stream (that is the caller's to read).
        step = 0.01
        while True:
            status = await self.call("whatsapp_status")
            if status.get("state") == "ready":
                return status
            left = deadline - self._loop.time()
            if left <= 0:
                raise error_class_for("timeout")(
                    f"the client was not ready within {timeout:g} s (state {status.get('state')})",
                    code="timeout", details={"state": status.get("state"), "last_error": status.get("last_error")})
            await asyncio.sleep(min(step, left))
            step = min(step * 2, 0.1)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<wause.AsyncClient {'closed' if self._closed else 'open'}>"

    def _require_open(self) -> None:
        if self._closed:
            raise InvalidRequest(_CLOSED_MESSAGE)
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("an AsyncClient must be used from the event loop it was created on")

    # Calls -----------------------------------------------------------------------------------

    async def call(self, method: str, params: Optional[Mapping[str, Any]] = None) -> JSONObject:
        """Calls a catalogue method and awaits its result; raises the mapped :class:`wause.Error`.

        Issued with ``wause_send``, so the loop never blocks; any number may run concurrently.
        Cancelling the await abandons the answer (it is dropped when it arrives).
        """
        return await self._call_text(method, _encode_params(params))

    async def call_raw(self, method: str, params_json: Optional[str]) -> JSONObject:
        """Like :meth:`call`, with the params as JSON text passed through unchanged."""
        return await self._call_text(method, params_json)

    async def _call_text(self, method: str, params_json: Optional[str]) -> JSONObject:
        self._require_open()
        # Sending and registering happen in one step of the loop, and answers are dispatched by
        # later steps of the same loop, so no answer can arrive before its future exists.
        request_id = self._client._send_text(method, params_json, None)
        future: "asyncio.Future[JSONObject]" = self._loop.create_future()
        self._pending[request_id] = future
        try:
            return await future
        finally:
            self._pending.pop(request_id, None)

    # The catalogue's methods (status(), send_message(), ...) are generated into
    # AsyncClientMethods (_generated.py); each goes through _call_method.

    async def _call_method(self, method: str, params: Optional[Dict[str, Any]]) -> JSONObject:
        return await self.call(method, params)

    # Events ----------------------------------------------------------------------------------

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event (logged after the client was created), waiting up to ``timeout``
        seconds (``0``: only what is already here; ``None``: no limit). ``None`` on timeout or
        once the client is closed."""
        self._require_open()
        deadline = None if timeout is None else self._loop.time() + max(0.0, float(timeout))
        while True:
            if self._closed:
                return None
            if self._refill:
                event = self._refill.popleft()
                self._position = event["cursor"]
                return event
            if self._needs_refill():
                if self._refill_task is None:
                    self._refill_task = self._loop.create_task(self._read_dropped_from_log())
                # Shielded: one reader giving up must not cancel the read others wait for.
                await asyncio.shield(self._refill_task)
                continue
            while self._buffer:
                event = self._buffer.popleft()
                if event["cursor"] > self._position:  # not already read back from the log
                    self._position = event["cursor"]
                    return event
            # Nothing awaited since the buffer was found empty, so no dispatch slipped in between.
            self._wakeup.clear()
            remaining = None if deadline is None else deadline - self._loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return None

    def _needs_refill(self) -> bool:
        if self._first_cursor is None:
            return False
        return self._dropped_through > max(self._position, self._first_cursor - 1)

    async def _read_dropped_from_log(self) -> None:
        try:
            after = max(self._position, cast(int, self._first_cursor) - 1)
            page = await asyncio.to_thread(self._client.replay, after, _MAX_REPLAY_PAGE)
            dropped = [event for event in page["events"] if event["cursor"] <= self._dropped_through]
            if dropped:
                self._refill.extend(dropped)
            else:
                # Pruned from the log meanwhile: nothing left to read back.
                self._position = self._dropped_through
        except InvalidRequest:
            if not self._closed:
                raise
        finally:
            self._refill_task = None

    def events(self, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """``async for`` over events as they are delivered, in cursor order. Ends after
        ``timeout`` seconds in total (``None``: no limit) or when the client is closed. Answers
        never appear here: they resolve their :meth:`call`."""
        self._require_open()
        deadline = None if timeout is None else self._loop.time() + max(0.0, float(timeout))
        return self._iterate_events(deadline)

    async def _iterate_events(self, deadline: Optional[float]) -> AsyncIterator[Event]:
        while True:
            remaining = None if deadline is None else deadline - self._loop.time()
            if remaining is not None and remaining <= 0:
                return
            event = await self.next_event(remaining)
            if event is None:
                return
            yield event

    # The event log ---------------------------------------------------------------------------

    async def replay(self, after_cursor: int = 0, limit: int = 100) -> EventPage:
        """One page of the event log; see :meth:`wause.Client.replay`. Runs in a worker thread."""
        self._require_open()
        return await asyncio.to_thread(self._client.replay, after_cursor, limit)

    def iter_log(self, after_cursor: int = 0, page_size: int = 100) -> AsyncIterator[Event]:
        """``async for`` over every logged event with a cursor above ``after_cursor``, oldest
        first, fetched ``page_size`` at a time."""
        self._require_open()
        _check_integer(after_cursor, "after_cursor", _INT64_MIN, _INT64_MAX,
                       "after_cursor must fit in a signed 64-bit integer")
        _check_integer(page_size, "limit", -_INT32_MAX - 1, _INT32_MAX, "limit must be between 1 and 1000")
        return self._iterate_log(after_cursor, page_size)

    async def _iterate_log(self, after_cursor: int, page_size: int) -> AsyncIterator[Event]:
        while True:
            page = await self.replay(after_cursor, page_size)
            for event in page["events"]:
                yield event
            if not page["has_more"]:
                return
            after_cursor = page["next_cursor"]


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("AsyncClient must be created inside a running event loop "
                           "(e.g. in a coroutine run by asyncio.run); use wause.Client otherwise") from None


def _check_buffer_size(max_buffered_events: int) -> None:
    if isinstance(max_buffered_events, bool) or not isinstance(max_buffered_events, int) or max_buffered_events < 1:
        raise InvalidRequest(f"max_buffered_events must be a positive integer, got {max_buffered_events!r}")
