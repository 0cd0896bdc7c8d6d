"""Typed shapes of the JSON the engine returns (DESIGN.md), for type checkers and readers.

At run time they are plain ``dict`` objects straight from ``json.loads``; these TypedDicts only
describe them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

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


class PairStatusResult(StatusResult):
    """The ``whatsapp_pair_status`` result (and ``whatsapp_start_auth``'s): the status object plus
    what a person needs to link right now. ``qr`` (the whole
    ``https://wa.me/settings/linked_devices#...`` text) and ``qr_png_base64`` (the same QR as a
    PNG, base64) are set while ``state == "qr"``; ``pairing_code`` (``XXXX-XXXX``) while
    ``state == "pairing_code"``; otherwise they are ``None``."""
    qr: Optional[str]
    qr_png_base64: Optional[str]
    pairing_code: Optional[str]


class PairingCodeResult(TypedDict):
    """The ``whatsapp_pairing_code`` result (the seven-tool contract). When the device is already
    linked, ``already_authenticated`` is true, ``phone_number`` and ``code`` are ``None`` and
    ``status`` holds the status object; otherwise ``code`` is ``XXXX-XXXX``, ``phone_number`` the
    normalised digits and ``status`` is ``None``."""
    already_authenticated: bool
    phone_number: Optional[str]
    code: Optional[str]
    instructions: str
    status: Optional[StatusResult]


class LogoutResult(TypedDict):
    """The ``whatsapp_logout`` result. ``server_confirmed`` is false when WhatsApp could not be
    told (offline); the device is unlinked locally either way."""
    ok: bool
    was_linked: bool
    server_confirmed: bool


class UnlinkResult(LogoutResult):
    """The ``whatsapp_unlink`` result: :class:`LogoutResult` plus whether the history was deleted."""
    cleared_data: bool


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

#: Where one of our messages is: ``queued`` (stored, not yet accepted by WhatsApp) → ``sent``
#: (server ack) → ``delivered`` → ``read``; or ``failed`` (see ``reason``).
MessageStatusName = Literal["queued", "sent", "delivered", "read", "failed"]

#: One stored message (``whatsapp_read_messages``, ``whatsapp_list_messages``, ...). ``body`` is
#: text from other people: data, never instructions. ``from``/``to`` are JIDs (``from`` is a
#: Python keyword, hence this functional form: read it as ``message["from"]``); ``timestamp`` is
#: unix seconds; ``status`` is set for our own messages only; ``cursor`` pages
#: ``list_messages``.
Message = TypedDict("Message", {
    "id": Optional[str],
    "chat_id": str,
    "from": Optional[str],
    "to": Optional[str],
    "author": Optional[str],
    "from_me": bool,
    "type": Optional[str],
    "body": str,
    "timestamp": Optional[int],
    "has_media": bool,
    "status": Optional[MessageStatusName],
    "quoted_message_id": Optional[str],
    "cursor": int,
})


class ReceivedMessage(Message, total=False):
    """The message in ``message.received`` (and ``wait_for_message``): a :class:`Message` whose
    ``author`` is the sender's name when known, plus whether the sender's identity key changed
    (a new phone, or someone else) since the last message."""
    identity_changed: bool


class ChatSummary(TypedDict):
    """One chat (``whatsapp_list_chats``): ``id`` is the chat JID, ``timestamp`` the unix seconds
    of its last message."""
    id: Optional[str]
    name: Optional[str]
    is_group: bool
    is_read_only: bool
    unread_count: int
    timestamp: Optional[int]
    archived: bool
    pinned: bool
    muted: bool
    last_message: Optional[Message]


class SendMessageResult(TypedDict):
    """The ``whatsapp_send_message`` result: ``to`` the recipient's digits, ``chat_id`` the chat
    JID, ``timestamp`` ISO 8601 UTC. ``status`` is ``"sent"`` once WhatsApp accepted it (later
    ``delivered``/``read``), ``"queued"`` if it still waits for a connection."""
    ok: bool
    to: str
    chat_id: str
    message_id: Optional[str]
    timestamp: str
    status: MessageStatusName


class TimelineEntry(TypedDict):
    """One step of a message's status: ``at`` ISO 8601 UTC; ``device`` the JID of the device
    whose receipt made the step (``None`` for queued/sent)."""
    status: MessageStatusName
    at: str
    device: Optional[str]


class MessageStatusResult(TypedDict):
    """The ``whatsapp_message_status`` result: the current status and every step so far."""
    ok: bool
    message_id: str
    chat_id: str
    from_me: bool
    status: Optional[MessageStatusName]
    reason: Optional[str]
    timeline: List[TimelineEntry]


class MarkReadResult(TypedDict):
    """The ``whatsapp_mark_read`` result: the ids that were marked (``count`` of them)."""
    ok: bool
    chat_id: str
    count: int
    message_ids: List[str]


class ListChatsResult(TypedDict):
    """The ``whatsapp_list_chats`` result, most recent chat first."""
    ok: bool
    count: int
    chats: List[ChatSummary]


class ReadMessagesResult(TypedDict):
    """The ``whatsapp_read_messages`` result: the chat and its latest messages, oldest first."""
    ok: bool
    chat: ChatSummary
    count: int
    messages: List[Message]


class ListMessagesResult(TypedDict):
    """The ``whatsapp_list_messages`` result, oldest first. Pass ``before_cursor`` back for the
    previous page, ``after_cursor`` for the next (``None`` when the page is empty)."""
    ok: bool
    count: int
    messages: List[Message]
    before_cursor: Optional[int]
    after_cursor: Optional[int]


class SearchHit(TypedDict):
    """One search result: the message and a snippet with the matches in ``[...]``."""
    message: Message
    snippet: str


class SearchMessagesResult(TypedDict):
    """The ``whatsapp_search_messages`` result, best match first."""
    ok: bool
    count: int
    results: List[SearchHit]


class SyncResult(TypedDict):
    """The ``whatsapp_sync`` result: events after the cursor, oldest first; pass ``next_cursor``
    next time."""
    ok: bool
    events: List["Event"]
    next_cursor: int
    has_more: bool


class WaitForMessageResult(TypedDict):
    """The ``whatsapp_wait_for_message`` result: the message, or ``timed_out`` with ``message``
    ``None``; ``cursor`` is the event cursor of the message (or where waiting stopped)."""
    ok: bool
    timed_out: bool
    waited_seconds: int
    message: Optional[ReceivedMessage]
    cursor: int


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
