"""wause — an embeddable WhatsApp linked-device engine, in-process through libwause (ctypes).

Quick start::

    import wause

    print(wause.version())
    with wause.Client(data_dir="/path/to/store") as client:
        print(client.status())                  # {"state": "stopped", "ready": False, ...}
        for event in client.events(timeout=5):  # {"cursor", "name", "ts", "data"}
            print(event)

    # Link by phone number: enter the code on the phone, then wait until logged in.
    with wause.Client(data_dir="/path/to/store") as client:
        print(client.pairing_code("+1 555 123 4567")["code"])   # "ABCD-EFGH"
        for event in client.events(timeout=180):
            if event["name"] == "account.connected" and event["data"]["phase"] == "login":
                break
        client.logout()                                         # unlink again

    # Messaging (once linked): send, then follow delivery and replies as events.
    with wause.Client(data_dir="/path/to/store") as client:
        sent = client.send_message("+1 555 765 4321", "hello")    # {"message_id", "status": "sent", ...}
        for event in client.events(timeout=60):
            if event["name"] == "message.received":
                print(event["data"]["sender_phone"], event["data"]["message"]["body"])
        print(client.read_messages("15557654321")["messages"])

    # asyncio
    async with wause.AsyncClient(data_dir="/path/to/store") as client:
        print(await client.status())

The shared library is found through ``$WAUSE_LIBRARY``, then ``libwause.so`` inside this package,
then the system loader; it is loaded on first use, and :class:`LibraryNotFound` (an ``OSError``)
lists every place tried. Errors from the engine raise :class:`Error` subclasses named after the
codes of DESIGN.md (``InvalidRequest``, ``NotFound``, ..., ``WauseTimeout`` for ``timeout``,
``Internal``).
"""

from . import errors as _errors  # first: the generated error classes need errors.Error (see errors.py)
from ._generated import VERSION as __version__
from ._native import LibraryNotFound, library_path
from .async_client import AsyncClient
from .client import Callback, Client, catalogue, version
from .errors import (AmbiguousRecipient, ClientOutdated, EditWindowExpired, Error, ForbiddenPath,
                     Internal, InvalidRequest, LoggedOut, MediaTooLarge, NotConnected, NotFound,
                     NotOnWhatsApp, PairingFailed, RateLimited, WauseTimeout, WhatsAppNotPaired, error_class_for,
                     error_from_json, IdempotencyConflict, ForbiddenRecipient, ReachOutRestricted, StaleDeviceSession,
                     NotAParticipant)
from .types import (AccountConnectedData, AccountDisconnectedData, AccountInfo, AccountLoggedOutData,
                    AccountPairedData, Answer, ChatSummary, ConnectionState, ErrorObject, Event,
                    EventPage, JSONObject, ListChatsResult, ListMessagesResult, LogoutResult,
                    MarkReadResult, Message, MessageReceivedData, MessageSentData, MessageStatusData,
                    MessageStatusName, MessageStatusResult, PairingCodeData, PairingCodeResult,
                    PairingFailedData, PairingQRData, PairStatusResult, ReadMessagesResult,
                    ReceivedMessage, SearchHit, SearchMessagesResult, SendMessageResult, StatusResult,
                    StoreCounts, SyncResult, TimelineEntry, UnlinkResult, WaitForMessageResult)

__all__ = [
    "version", "catalogue", "library_path", "Client", "AsyncClient", "Callback",
    "LibraryNotFound", "Error", "InvalidRequest", "NotFound", "AmbiguousRecipient",
    "WhatsAppNotPaired", "NotConnected", "PairingFailed", "RateLimited", "EditWindowExpired",
    "MediaTooLarge", "ForbiddenPath", "WauseTimeout", "ClientOutdated", "LoggedOut", "Internal", "NotOnWhatsApp",
    "IdempotencyConflict", "ForbiddenRecipient", "ReachOutRestricted", "StaleDeviceSession", "NotAParticipant",
    "error_class_for", "error_from_json",
    "StatusResult", "AccountInfo", "StoreCounts", "ConnectionState", "Event", "EventPage",
    "Answer", "ErrorObject", "JSONObject",
    "PairStatusResult", "PairingCodeResult", "LogoutResult", "UnlinkResult",
    "PairingQRData", "PairingCodeData", "PairingFailedData", "AccountPairedData",
    "AccountConnectedData", "AccountDisconnectedData", "AccountLoggedOutData",
    "MessageStatusName", "Message", "ReceivedMessage", "ChatSummary", "SendMessageResult",
    "TimelineEntry", "MessageStatusResult", "MarkReadResult", "ListChatsResult",
    "ReadMessagesResult", "ListMessagesResult", "SearchHit", "SearchMessagesResult", "SyncResult",
    "WaitForMessageResult", "MessageReceivedData", "MessageSentData", "MessageStatusData",
]
