"""Finding and declaring libwause (include/wause.h) through ctypes.

The library is loaded lazily, on the first call that needs it, so ``import wause`` always works
(type checkers, documentation tools, ``wause.LibraryNotFound`` handling) and a missing library is
reported where it matters, with every place that was tried.

Search order:

1. ``$WAUSE_LIBRARY`` — when set, it is the only candidate: a misconfigured override must fail
   loudly instead of silently loading some other build.
2. ``libwause.so`` inside the ``wause`` package directory (a bundled copy).
3. The system: ``ctypes.util.find_library("wause")``, then the plain name ``libwause.so`` (which
   the dynamic loader resolves through ``LD_LIBRARY_PATH``, ``ld.so.cache`` and the default paths).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import List, Optional, Tuple

__all__ = ["LibraryNotFound", "native", "library_path", "CALLBACK", "take_string"]

_SHARED_LIBRARY_NAME = "libwause.dylib" if sys.platform == "darwin" else "libwause.so"

# The functions of wause.h; a library missing one of them is not (this version of) libwause.
_REQUIRED_SYMBOLS = (
    "wause_version", "wause_result_name", "wause_catalogue", "wause_client_create",
    "wause_client_close", "wause_client_destroy", "wause_call", "wause_send", "wause_receive", "wause_set_callback",
    "wause_events", "wause_free",
)

#: ``typedef void (*wause_callback)(void *user_data, const char *json);``
#: ``json`` arrives as ``bytes`` (ctypes copies the C string before our code runs), which is what
#: the header asks for: the pointer is only valid during the call.
CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class LibraryNotFound(OSError):
    """libwause could not be loaded. The message lists every candidate and why it failed.

    An ``OSError`` (like the ``OSError`` ctypes raises for a missing shared object), not a
    :class:`wause.Error`: it is about the installation, not about a request.
    """


LibraryNotFound.__module__ = "wause"  # shown in tracebacks as wause.LibraryNotFound, its public name


def _candidates() -> List[Tuple[str, str]]:
    """(where the candidate came from, path or name to hand to the dynamic loader)."""
    override = os.environ.get("WAUSE_LIBRARY")
    if override:
        return [("$WAUSE_LIBRARY", override)]
    candidates = [("next to the package", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       _SHARED_LIBRARY_NAME))]
    found = ctypes.util.find_library("wause")
    if found:
        candidates.append(("ctypes.util.find_library('wause')", found))
    candidates.append(("system loader", _SHARED_LIBRARY_NAME))
    return candidates


def _declare(library: ctypes.CDLL) -> None:
    """Sets argtypes/restype for every function, so ctypes converts and checks each argument.

    Owned strings (everything the header says the caller frees) are declared ``c_void_p`` and
    read with :func:`take_string`: a ``c_char_p`` restype would copy the text and drop the
    pointer, leaking it. The two static strings (version, result names) must *not* be freed, so
    ``c_char_p`` is exactly right for them.
    """
    c_void_p, c_char_p, c_int, c_int64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int64
    out_string = ctypes.POINTER(c_void_p)

    library.wause_version.argtypes = []
    library.wause_version.restype = c_char_p
    library.wause_result_name.argtypes = [c_int]
    library.wause_result_name.restype = c_char_p
    library.wause_catalogue.argtypes = []
    library.wause_catalogue.restype = c_void_p
    library.wause_client_create.argtypes = [c_char_p, out_string]
    library.wause_client_create.restype = c_void_p
    library.wause_client_close.argtypes = [c_void_p, out_string]
    library.wause_client_close.restype = c_int
    library.wause_client_destroy.argtypes = [c_void_p]
    library.wause_client_destroy.restype = None
    library.wause_call.argtypes = [c_void_p, c_char_p, c_char_p, out_string]
    library.wause_call.restype = c_int
    library.wause_send.argtypes = [c_void_p, c_int64, c_char_p, c_char_p]
    library.wause_send.restype = c_int
    library.wause_receive.argtypes = [c_void_p, c_int]
    library.wause_receive.restype = c_void_p
    library.wause_set_callback.argtypes = [c_void_p, CALLBACK, c_void_p]
    library.wause_set_callback.restype = c_int
    library.wause_events.argtypes = [c_void_p, c_int64, c_int, out_string]
    library.wause_events.restype = c_int
    library.wause_free.argtypes = [c_void_p]
    library.wause_free.restype = None


_load_lock = threading.Lock()
_loaded: Optional[Tuple[ctypes.CDLL, str]] = None


def _load() -> Tuple[ctypes.CDLL, str]:
    global _loaded
    with _load_lock:
        if _loaded is not None:
            return _loaded
        failures = []
        for origin, candidate in _candidates():
            try:
                library = ctypes.CDLL(candidate)
            except OSError as error:
                failures.append(f"  {candidate} ({origin}): {error}")
                continue
            missing = [name for name in _REQUIRED_SYMBOLS if not hasattr(library, name)]
            if missing:
                failures.append(f"  {candidate} ({origin}): loaded, but it lacks {', '.join(missing)}"
                                " — not a compatible libwause")
                continue
            _declare(library)
            _loaded = (library, candidate)
            return _loaded
        raise LibraryNotFound(
            "libwause could not be loaded. Tried:\n" + "\n".join(failures)
            + "\nSet WAUSE_LIBRARY to the path of libwause.so, put libwause.so next to the wause"
              " package, or install it where the dynamic loader finds it.")


def native() -> ctypes.CDLL:
    """The loaded, fully declared library (loading it on first use). Thread-safe."""
    return _load()[0]


def library_path() -> str:
    """The path or name the library was loaded from (loading it on first use)."""
    return _load()[1]


def take_string(pointer: Optional[int]) -> Optional[bytes]:
    """Copies a library-owned ``char *`` into Python and frees it with ``wause_free``.

    Every owned string goes through here exactly once, so none leaks and none is freed twice.
    """
    if not pointer:
        return None
    try:
        return ctypes.string_at(pointer)
    finally:
        native().wause_free(pointer)
