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
