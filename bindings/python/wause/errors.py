"""The wause error model: ``{code, message, details?}`` (DESIGN.md "Errors"), as exceptions.

Every failure the engine reports arrives as one of these, the same JSON through C, the bindings
and MCP. :class:`Error` carries the three fields; each documented code has a subclass, so callers
catch exactly what they handle::

    try:
        client.call("whatsapp_send_message", {...})
    except wause.NotConnected:
        ...
    except wause.Error as error:
        print(error.code, error.message, error.details)

A code this version of the binding does not know (a newer library) becomes a plain
:class:`Error` with that code, never a crash.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "Error", "InvalidRequest", "NotFound", "AmbiguousRecipient", "WhatsAppNotPaired",
    "NotConnected", "PairingFailed", "RateLimited", "EditWindowExpired", "MediaTooLarge",
    "ForbiddenPath", "WauseTimeout", "ClientOutdated", "LoggedOut", "Internal",
    "error_class_for", "error_from_json",
]


class Error(Exception):
    """An error reported by the wause engine (or by the binding, for the same kinds of mistakes).

    Attributes:
        code: the stable error name, e.g. ``"invalid_request"``.
        message: a human-readable explanation.
        details: extra structured facts (e.g. ``{"key": "data_dir"}``), or ``None``.
    """

    #: The code this class stands for; the base class has none of its own.
    default_code: str = "unknown"

    def __init__(self, message: str, code: Optional[str] = None,
                 details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code: str = code if code is not None else self.default_code
        self.message: str = message
        self.details: Optional[Dict[str, Any]] = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"

    def __reduce__(self) -> Any:
        # Keeps code and details across pickling (multiprocessing, concurrent.futures).
        return (type(self), (self.message, self.code, self.details))

    def to_dict(self) -> Dict[str, Any]:
        """The error as the engine's JSON object."""
        error: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error


class InvalidRequest(Error, ValueError):
    """``invalid_request``: malformed JSON, unknown method, wrong or missing argument, bad config,
    or use of a closed client. Also a ``ValueError``, as Python code expects of bad arguments."""
    default_code = "invalid_request"


class NotFound(Error):
    """``not_found``: the chat, message, contact or group does not exist."""
    default_code = "not_found"


class AmbiguousRecipient(Error):
    """``ambiguous_recipient``: a name matches several contacts or groups (``details`` lists them)."""
    default_code = "ambiguous_recipient"


class WhatsAppNotPaired(Error):
    """``whatsapp_not_paired``: the method needs a linked device."""
    default_code = "whatsapp_not_paired"


class NotConnected(Error):
    """``not_connected``: linked, but the connection is down right now."""
    default_code = "not_connected"


class PairingFailed(Error):
    """``pairing_failed``: linking by QR or pairing code failed."""
    default_code = "pairing_failed"


class RateLimited(Error):
    """``rate_limited``: too many requests; try again later."""
    default_code = "rate_limited"


class EditWindowExpired(Error):
    """``edit_window_expired``: the message is too old to edit or revoke."""
    default_code = "edit_window_expired"


class MediaTooLarge(Error):
    """``media_too_large``: the file exceeds the size limit."""
    default_code = "media_too_large"


class ForbiddenPath(Error):
    """``forbidden_path``: the file lies outside the configured directories."""
    default_code = "forbidden_path"


class WauseTimeout(Error):
    """``timeout``: an engine-side wait or network round trip ran out of time.

    Named ``WauseTimeout`` rather than ``Timeout``/``TimeoutError`` so it neither shadows nor is
    confused with Python's builtin ``TimeoutError``, which the binding raises for its *own*
    client-side waits (e.g. :meth:`wause.Client.wait_answer` with a timeout).
    """
    default_code = "timeout"


class ClientOutdated(Error):
    """``client_outdated``: the server refused the advertised client version."""
    default_code = "client_outdated"


class LoggedOut(Error):
    """``logged_out``: this device was unlinked."""
    default_code = "logged_out"


class Internal(Error):
    """``internal``: a failure inside the engine (e.g. a store that cannot be opened)."""
    default_code = "internal"


_CLASS_BY_CODE: Dict[str, Type[Error]] = {
    cls.default_code: cls
    for cls in (InvalidRequest, NotFound, AmbiguousRecipient, WhatsAppNotPaired, NotConnected,
                PairingFailed, RateLimited, EditWindowExpired, MediaTooLarge, ForbiddenPath,
                WauseTimeout, ClientOutdated, LoggedOut, Internal)
}


def error_class_for(code: str) -> Type[Error]:
    """The exception class for an error code; :class:`Error` for codes this binding does not know."""
    return _CLASS_BY_CODE.get(code, Error)


def error_from_json(error: Any, fallback_code: str = "internal") -> Error:
    """Builds the exception for an engine error object (a mapping, or its JSON text/bytes).

    ``fallback_code`` is used when the object carries no usable code (the C result name, when the
    caller has one). Text that is not an error object still yields an :class:`Error` rather than
    raising something else, so error handling itself cannot fail.
    """
    if isinstance(error, (bytes, str)):
        try:
            error = json.loads(error)
        except ValueError:
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else error
            return error_class_for(fallback_code)(f"unreadable error from libwause: {text!r}", fallback_code)
    if not isinstance(error, Mapping):
        return error_class_for(fallback_code)(f"unreadable error from libwause: {error!r}", fallback_code)
    code = error.get("code")
    if not isinstance(code, str) or not code:
        code = fallback_code
    message = error.get("message")
    if not isinstance(message, str):
        message = json.dumps(error)
    details = error.get("details")
    return error_class_for(code)(message, code, details if isinstance(details, dict) else None)
