"""Many accounts in one wause-mcp against wause-sim (issue 16 "Scale"): N accounts linked in one
process, then restarted so all N log in at once; prints resident memory per idle linked account
((RSS with N − RSS with 0) / N after IDLE seconds idle), the time for all N to log in, CPU per
idle account per minute, and messages/s across N/2 account pairs sending at once.

Usage: python3 bench/accounts_bench.py [N] (env WAUSE_MCP, WAUSE_SIM: the binaries, release builds
for real figures; WAUSE_BENCH_IDLE: idle seconds, default 60; WAUSE_BENCH_MESSAGES: per pair,
default 10). Only 127.0.0.1 is dialled. Standard library only.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "mcp"))
sys.path.insert(0, str(ROOT / "tests" / "sim"))
os.environ.setdefault("WAUSE_TEST_DEADLINE", "600")
from wause_harness import WauseServer  # noqa: E402
from sim_process import SimProcess  # noqa: E402
from engine_flows import call_tool  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def phone(index: int) -> str:
    return f"1555{index:07d}"


def server(sim, directory) -> WauseServer:
    return WauseServer(None, ["--accounts-dir", str(directory), "--toolsets", "core,accounts", "--log-level", "error",
                              "--server-url", sim.ws_url, "--server-root-key", sim.root_public_key])


def all_ready(mcp, session, count: int, deadline: float) -> None:
    while True:
        states = [a["state"] for a in call_tool(mcp, session, "whatsapp_list_accounts")["accounts"]]
        if len(states) == count and all(s == "ready" for s in states):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"not all ready: {sorted(set(states))}")
        time.sleep(0.2)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    idle = float(os.environ.get("WAUSE_BENCH_IDLE", "60"))
    per_pair = int(os.environ.get("WAUSE_BENCH_MESSAGES", "10"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="wause-accounts-bench-"))
    sim = SimProcess(work / "sim")
    for index in range(count):
        assert sim.admin("POST", "/accounts", {"phone": phone(index), "push_name": f"A{index}"}).status == 201

    # Link every account (one process), then stop.
    mcp = server(sim, work / "accounts")
    session, _ = mcp.initialize()
    started = time.monotonic()
    for index in range(count):
        call_tool(mcp, session, "whatsapp_add_account", {"name": f"a{index}"})
        qr = call_tool(mcp, session, "whatsapp_start_auth", {"account": f"a{index}"})["qr"]
        assert sim.admin("POST", f"/accounts/{phone(index)}/scan", {"qr": qr}).status == 200
    all_ready(mcp, session, count, time.monotonic() + 600)
    linked = time.monotonic() - started
    assert mcp.stop() == 0

    # RSS with no account.
    empty = server(sim, work / "empty")
    empty.initialize()
    time.sleep(2)
    base = rss_bytes(empty.proc.pid)
    base_descriptors = len(os.listdir(f"/proc/{empty.proc.pid}/fd"))
    assert empty.stop() == 0

    # All N log in at once.
    start = time.monotonic()
    mcp = server(sim, work / "accounts")
    session, _ = mcp.initialize()
    all_ready(mcp, session, count, time.monotonic() + 600)
    login = time.monotonic() - start

    cpu_before = cpu_seconds(mcp.proc.pid)
    time.sleep(idle)
    cpu_idle = cpu_seconds(mcp.proc.pid) - cpu_before
    rss = rss_bytes(mcp.proc.pid)
    descriptors = len(os.listdir(f"/proc/{mcp.proc.pid}/fd"))

    # Up to 100 pairs (a0→a1, a2→a3, …) sending at once, as issue 16 asks; a send counts once the
    # server acked it, and any failure (HTTP included) is counted, never hidden.
    pairs = [(f"a{i}", phone(i + 1)) for i in range(0, min(count, 200) - 1, 2)]
    errors: list[str] = []
    acked = [0]
    lock = threading.Lock()

    def send(account: str, to: str) -> None:
        try:
            own, _ = mcp.initialize()
            for n in range(per_pair):
                result = call_tool(mcp, own, "whatsapp_send_message", {"account": account, "phone_number": to, "message": f"m{n}"})
                if result.get("status") in ("sent", "delivered", "read"):
                    with lock:
                        acked[0] += 1
        except Exception as error:  # noqa: BLE001 - counted and reported below
            with lock:
                errors.append(f"{type(error).__name__}: {str(error)[:160]}")
    threads = [threading.Thread(target=send, args=pair) for pair in pairs]
    sent_start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - sent_start
    assert mcp.stop() == 0
    sim.stop()

    print(f"accounts: {count} linked in one wause-mcp ({os.path.basename(os.environ.get('WAUSE_MCP', 'debug build'))})")
    print(f"  linking all (sequential QR scans): {linked:.1f} s")
    print(f"  login of all {count} at start: {login:.1f} s")
    print(f"  RSS: {base / 2**20:.1f} MB with 0 accounts, {rss / 2**20:.1f} MB with {count} after {idle:.0f} s idle "
          f"→ {(rss - base) / count / 2**20:.2f} MB per idle linked account")
    print(f"  open files: {base_descriptors} with 0 accounts, {descriptors} with {count} "
          f"→ {(descriptors - base_descriptors) / count:.1f} per account")
    print(f"  CPU per idle account per minute: {cpu_idle / count * 60 / idle * 1000:.2f} ms")
    print(f"  messages/s across {len(pairs)} pairs: {acked[0] / elapsed:.1f} "
          f"({acked[0]} of {len(pairs) * per_pair} sends acked by the server in {elapsed:.1f} s; {len(errors)} errors)")
    for error in errors[:3]:
        print("   ", error)


if __name__ == "__main__":
    main()
