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
:class:`Error` with that code, never a crash. The per-code subclasses are generated from the
catalogue's error table (scripts/gen-bindings.py); :class:`Error` and the functions are written here.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type

__all__ = [
    "Error", "InvalidRequest", "NotFound", "AmbiguousRecipient", "WhatsAppNotPaired",
    "NotConnected", "PairingFailed", "RateLimited", "EditWindowExpired", "MediaTooLarge",
    "ForbiddenPath", "WauseTimeout", "ClientOutdated", "LoggedOut", "Internal", "NotOnWhatsApp",
    "IdempotencyConflict", "ForbiddenRecipient", "ReachOutRestricted", "StaleDeviceSession", "NotAParticipant",
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


# The subclass of each code (InvalidRequest, NotFound, ..., WauseTimeout, Internal) is generated from
# the catalogue's error table into _generated.py, which needs Error from here: hence the late import.
from ._generated import (ERROR_CLASSES, AmbiguousRecipient, ClientOutdated, EditWindowExpired,  # noqa: E402
                         ForbiddenPath, Internal, InvalidRequest, LoggedOut, MediaTooLarge, NotConnected,
                         NotFound, NotOnWhatsApp, PairingFailed, RateLimited, WauseTimeout, WhatsAppNotPaired,
                         IdempotencyConflict, ForbiddenRecipient, ReachOutRestricted, StaleDeviceSession, NotAParticipant)

_CLASS_BY_CODE: Dict[str, Type[Error]] = {cls.default_code: cls for cls in ERROR_CLASSES}


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
