"""Helpers shared by the crypto interop tests: run the `wause-signal` CLI and talk to
python-axolotl-curve25519 (libsignal's C curve25519 code) with its conventions spelled out."""

import os
import subprocess
from dataclasses import dataclass

import axolotl_curve25519 as libsignal_curve

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_SIGNAL names another binary.
WAUSE_SIGNAL = os.environ.get(
    "WAUSE_SIGNAL", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-signal"))
)


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_wause_signal(*args: str) -> CliResult:
    """Runs the CLI with the given arguments; never raises on a non-zero exit."""
    if not os.access(WAUSE_SIGNAL, os.X_OK):
        raise RuntimeError(
            f"wause-signal not found at {WAUSE_SIGNAL}: run `swift build --product wause-signal` "
            "or set WAUSE_SIGNAL")
    completed = subprocess.run([WAUSE_SIGNAL, *args], capture_output=True, text=True, timeout=60)
    return CliResult(completed.returncode, completed.stdout.strip(), completed.stderr.strip())


def clamp(private_key: bytes) -> bytes:
    """libsignal clamping. python-axolotl-curve25519's calculateSignature uses the private bytes
    as given, so keys must be clamped before handing them to it (docs/interop-oracles.md)."""
    clamped = bytearray(private_key)
    clamped[0] &= 248
    clamped[31] &= 127
    clamped[31] |= 64
    return bytes(clamped)


def their_public_key(private_key: bytes) -> bytes:
    return libsignal_curve.generatePublicKey(private_key)


def their_sign(private_key: bytes, message: bytes, random64: bytes) -> bytes:
    return libsignal_curve.calculateSignature(random64, private_key, message)


def their_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    # The C extension returns the C status: 0 means valid, -1 invalid.
    return libsignal_curve.verifySignature(public_key, message, signature) == 0


def our_sign(private_key: bytes, message: bytes, random64: bytes | None = None) -> bytes:
    args = ["sign", "--private", private_key.hex(), "--message", message.hex()]
    if random64 is not None:
        args += ["--random", random64.hex()]
    result = run_wause_signal(*args)
    assert result.returncode == 0, result.stderr
    return bytes.fromhex(result.stdout)


def our_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    result = run_wause_signal(
        "verify", "--public", public_key.hex(), "--message", message.hex(), "--signature", signature.hex())
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr}"
    assert result.stdout == ("valid" if result.returncode == 0 else "invalid")
    return result.returncode == 0


def flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)
