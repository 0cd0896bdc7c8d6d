"""Typed shapes of the JSON the engine returns (DESIGN.md), for type checkers and readers.

At run time they are plain ``dict`` objects straight from ``json.loads``; these TypedDicts only
describe them. The method results (``StatusResult``, ``Message``, ...) are generated from the
catalogue's output schemas into _generated.py; events, answers and errors are described here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

from ._generated import (AccountInfo, ChatSummary, ConnectionState, ListChatsResult, ListMessagesResult,
                         LogoutResult, MarkReadResult, Message, MessageStatusName, MessageStatusResult,
                         PairingCodeResult, PairStatusResult, ReadMessagesResult, SearchHit,
                         SearchMessagesResult, SendMessageResult, StatusResult, StoreCounts, SyncResult,
                         TimelineEntry, UnlinkResult, WaitForMessageResult)

__all__ = [
    "ConnectionState", "AccountInfo", "StoreCounts", "StatusResult", "PairStatusResult",
    "PairingCodeResult", "LogoutResult", "UnlinkResult",
    "PairingQRData", "PairingCodeData", "PairingFailedData", "AccountPairedData",
    "AccountConnectedData", "AccountDisconnectedData", "AccountLoggedOutData",
    "MessageStatusName", "Message", "ReceivedMessage", "ChatSummary", "SendMessageResult",
    "TimelineEntry", "MessageStatusResult", "MarkReadResult", "ListChatsResult",
    "ReadMessagesResult", "ListMessagesResult", "SearchHit", "SearchMessagesResult", "SyncResult",
    "WaitForMessageResult", "MessageReceivedData", "MessageSentData", "MessageStatusData",
    "Event", "EventPage", "ErrorObject", "Answer", "JSONObject",
]

#: A JSON object as Python sees it.
JSONObject = Dict[str, Any]

# Event data of the linking events (``Event["data"]`` for these names) -----------------------

class PairingQRData(TypedDict):
    """``pairing.qr``: the ``index``-th of ``count`` QR codes, shown for ``expires_in`` seconds."""
    qr: str
    index: int
    count: int
    expires_in: int


class PairingCodeData(TypedDict):
    """``pairing.code``: a code was issued for ``phone_number`` (digits)."""
    code: str
    phone_number: str


class PairingFailedData(TypedDict):
    """``pairing.failed``: linking ended without a link (state ``auth_failure``)."""
    reason: str


class AccountPairedData(TypedDict):
    """``account.paired``: the phone accepted this device. ``jid`` is the device JID
    (``user:device@s.whatsapp.net``), ``wid``/``lid`` the account's JIDs."""
    jid: str
    wid: str
    lid: Optional[str]
    platform: Optional[str]
    business_name: Optional[str]


class _AccountConnectedRequired(TypedDict):
    phase: Literal["linking", "login"]


class AccountConnectedData(_AccountConnectedRequired, total=False):
    """``account.connected``: ``phase`` ``"linking"`` when a linking connection is up, ``"login"``
    when logged in (state ``ready``; then ``wid`` and ``lid`` are present)."""
    wid: str
    lid: Optional[str]


class AccountDisconnectedData(TypedDict, total=False):
    """``account.disconnected``: the connection ended; ``will_reconnect`` says whether the engine
    dials again by itself."""
    reason: str
    will_reconnect: bool


class AccountLoggedOutData(TypedDict):
    """``account.logged_out``: the device is unlinked — by this client's logout/unlink
    (``initiated_by == "user"``) or by the phone or server (``"server"``)."""
    reason: str
    initiated_by: Literal["user", "server"]


# Messaging ---------------------------------------------------------------------------------------

class ReceivedMessage(Message, total=False):
    """The message in ``message.received`` (and ``wait_for_message``): a :class:`Message` whose
    ``author`` is the sender's name when known, plus whether the sender's identity key changed
    (a new phone, or someone else) since the last message."""
    identity_changed: bool


class MessageReceivedData(TypedDict):
    """``message.received``: someone wrote to us. ``sender_phone`` (digits) and ``sender_lid``
    (the LID user part) name the sender when known; ``from_other_device`` is false here."""
    message: ReceivedMessage
    sender_phone: Optional[str]
    sender_lid: Optional[str]
    from_other_device: bool


class MessageSentData(TypedDict, total=False):
    """``message.sent``, in one of two forms. A message this client sent was accepted by the
    server: ``message_id``, ``chat_id`` and ``timestamp`` (ISO 8601 UTC, the server's time). A
    message another device of ours sent was received here: ``message`` (``from_me`` true),
    ``from_other_device`` true, ``sender_phone``/``sender_lid`` ``None``."""
    message_id: str
    chat_id: str
    timestamp: str
    message: ReceivedMessage
    sender_phone: Optional[str]
    sender_lid: Optional[str]
    from_other_device: bool


class _MessageStatusDataRequired(TypedDict):
    message_id: str
    chat_id: Optional[str]
    status: MessageStatusName
    at: str


class MessageStatusData(_MessageStatusDataRequired, total=False):
    """``message.status``: one of our messages moved to ``status`` at ``at`` (ISO 8601 UTC).
    ``device`` is the JID whose receipt moved it (delivered/read); ``reason`` says why it
    failed. Statuses only move forward: a second device's ``delivered`` emits nothing."""
    device: str
    reason: str


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
