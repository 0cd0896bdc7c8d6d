"""Typed shapes of the JSON the engine returns (DESIGN.md), for type checkers and readers.

At run time they are plain ``dict`` objects straight from ``json.loads``; these TypedDicts only
describe them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

__all__ = [
    "ConnectionState", "AccountInfo", "StoreCounts", "StatusResult", "Event", "EventPage",
    "ErrorObject", "Answer", "JSONObject",
]

#: A JSON object as Python sees it.
JSONObject = Dict[str, Any]

#: ``whatsapp_status.state`` (DESIGN.md "Connection states").
ConnectionState = Literal[
    "stopped", "starting", "qr", "pairing_code", "authenticated", "ready", "disconnected",
    "auth_failure", "logged_out", "client_outdated",
]


class AccountInfo(TypedDict):
    """The linked account: ``wid`` is the own JID ``user@s.whatsapp.net``."""
    wid: str
    lid: Optional[str]
    pushname: Optional[str]
    platform: Optional[str]


class StoreCounts(TypedDict):
    """Counts from the local store."""
    chats: int
    messages: int
    unread: int
    pending_approvals: int


class StatusResult(TypedDict):
    """The ``whatsapp_status`` result (the seven-tool contract)."""
    state: ConnectionState
    ready: bool
    authenticated: bool
    has_qr: bool
    last_error: Optional[str]
    account: Optional[AccountInfo]
    data_dir: str
    store: StoreCounts


class Event(TypedDict):
    """One event: ``cursor`` strictly increasing per store, ``ts`` ISO 8601 UTC (``...Z``)."""
    cursor: int
    name: str
    ts: str
    data: JSONObject


class EventPage(TypedDict):
    """A page of the event log: pass ``next_cursor`` as ``after_cursor`` for the next page."""
    events: List[Event]
    next_cursor: int
    has_more: bool


class _ErrorObjectRequired(TypedDict):
    code: str
    message: str


class ErrorObject(_ErrorObjectRequired, total=False):
    """``{code, message, details?}``."""
    details: JSONObject


class _AnswerRequired(TypedDict):
    request_id: int


class Answer(_AnswerRequired, total=False):
    """The answer to an asynchronous call: exactly one of ``result`` or ``error`` is present."""
    result: JSONObject
    error: ErrorObject
