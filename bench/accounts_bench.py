"""Many accounts in one wause-mcp against wause-sim (issue 16, "Many accounts", the scale
paragraph), beside the same measures for one account in its own process.

Many: N accounts linked in one process (`--accounts-dir`), then the process restarted so all N log
in at once; printed: resident memory per idle linked account ((RSS with N − RSS with 0) / N after
IDLE seconds idle; bound ≤ 1 MB), the time for all N to log in (bound ≤ 120 s), CPU per idle
account per minute, and messages/s across min(N/2, 100) account pairs sending at once.

Single: one account in one process (`--data-dir`, the one-account-per-process deployment):
RSS of that idle linked process minus an empty (never linked) one, its login time, its idle CPU
per minute, and messages/s of one pair (that account sending to a second single-account process),
one send at a time like each pair of the many-accounts run.

Usage: python3 bench/accounts_bench.py [--accounts N] [--idle S] [--messages M] [--single-messages M]
(env WAUSE_MCP, WAUSE_SIM: the binaries, release builds for real figures — `make bench-accounts`).
Exits 1 when a bound is exceeded (judged at 1,000 accounts or more), a send fails, an account is
no longer ready after the idle time, or a measured process logged a warning or an error (an
unanswered keepalive ping, a dropped connection: none is expected). Only
127.0.0.1 is dialled. Standard library only (pytest is imported by the shared test helpers).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "mcp"))
sys.path.insert(0, str(ROOT / "tests" / "sim"))
os.environ.setdefault("WAUSE_TEST_DEADLINE", "600")
from wause_harness import BINARY, WauseServer  # noqa: E402
from sim_process import SIM_BINARY, SimProcess  # noqa: E402
from engine_flows import call_tool  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
RSS_BOUND_MB = 1.0  # issue 16: resident memory per idle linked account
LOGIN_BOUND_S = 120.0  # issue 16: login of all 1,000
BOUND_ACCOUNTS = 1000  # the bounds are stated for this many accounts
SETTLE_S = 2.0  # how long the empty process runs before its RSS is read
ACKED = ("sent", "delivered", "read")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def cpu_ticks_seconds(pid: int) -> float:
    """utime + stime, threads that exited included, in clock ticks (10 ms here)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_by_thread(pid: int) -> dict[str, int]:
    """Nanoseconds on a CPU per live thread (schedstat): one idle account uses less than a
    clock tick a minute, which /proc/PID/stat rounds to 0."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                times[tid] = int(handle.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited meanwhile
    return times


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def send_cpu(processes: dict[str, int], work) -> tuple[object, str]:
    """Runs `work()` and says where the CPU went meanwhile: on this 2-core machine the sends are
    CPU-bound, the bench's own Python client included."""
    before = {name: cpu_ticks_seconds(pid) for name, pid in processes.items()}
    client_before = own_cpu_seconds()
    result = work()
    used = {name: cpu_ticks_seconds(pid) - before[name] for name, pid in processes.items()}
    used["the Python client"] = own_cpu_seconds() - client_before
    return result, ", ".join(f"{name} {seconds:.2f} s" for name, seconds in used.items())


class CPUMeter:
    """CPU seconds a process uses from now on: per-thread nanoseconds; the tick count instead
    when it is more than two ticks above them (threads that exited in between took theirs)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.ticks = cpu_ticks_seconds(pid)
        self.threads = cpu_by_thread(pid)

    def used(self) -> float:
        now = cpu_by_thread(self.pid)
        nanoseconds = sum(value - self.threads.get(tid, 0) for tid, value in now.items())
        ticks = cpu_ticks_seconds(self.pid) - self.ticks
        return ticks if ticks > nanoseconds / 1e9 + 2 / TICKS else nanoseconds / 1e9


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def phone(index: int) -> str:
    return f"1555{index:07d}"


def single_phone(index: int) -> str:
    return f"1556{index:07d}"


def sim_args(sim) -> list[str]:
    # Warnings too: a keepalive ping that goes unanswered is logged as one (KeepAlive.swift).
    return ["--log-level", "warning", "--server-url", sim.ws_url, "--server-root-key", sim.root_public_key]


def many_server(sim, directory) -> WauseServer:
    return WauseServer(None, ["--accounts-dir", str(directory), "--toolsets", "core,accounts", *sim_args(sim)])


def single_server(sim, directory) -> WauseServer:
    return WauseServer(directory, ["--toolsets", "core", *sim_args(sim)])


def poll(predicate, what: str, interval: float, deadline: float):
    """Polls a state that has no event to wait on at this point (the process logs in before a
    client can open its event stream); the interval bounds the error of the timed figure."""
    while True:
        value = predicate()
        if value is True:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: still {value}")
        time.sleep(interval)


def all_ready(mcp, session, count: int, deadline: float) -> None:
    def check():
        states = [a["state"] for a in call_tool(mcp, session, "whatsapp_list_accounts")["accounts"]]
        return True if len(states) == count and all(s == "ready" for s in states) else sorted(set(states))
    poll(check, f"not all {count} accounts ready", 0.1, deadline)


def single_ready(mcp, session, deadline: float) -> None:
    def check():
        state = call_tool(mcp, session, "whatsapp_status")["state"]
        return True if state == "ready" else state
    poll(check, "the single account is not ready", 0.01, deadline)


@dataclass
class Figures:
    accounts: int
    base_rss: int
    rss: int
    base_fds: int
    fds: int
    login: float
    cpu_idle: float
    idle: float
    acked: int
    attempted: int
    pairs: int
    send_seconds: float
    errors: list[str]
    logged: list[str]  # what the measured processes logged at --log-level warning
    send_cpu: str  # CPU seconds per process during the sends

    @property
    def keepalive_failures(self) -> int:
        return sum("keepalive" in line for line in self.logged)

    @property
    def rss_per_account_mb(self) -> float:
        return (self.rss - self.base_rss) / self.accounts / 2**20

    @property
    def cpu_ms_per_account_minute(self) -> float:
        return self.cpu_idle / self.accounts * 60 / self.idle * 1000

    @property
    def rate(self) -> float:
        return self.acked / self.send_seconds if self.send_seconds > 0 else 0.0


def send_pairs(mcp, pairs: list[tuple[str | None, str]], per_pair: int) -> tuple[int, float, list[str]]:
    """Every pair sends `per_pair` messages one at a time, all pairs at once (one thread and MCP
    session each); a send counts once the server acked it, and any failure (HTTP included) is
    counted, never hidden."""
    errors: list[str] = []
    acked = [0]
    lock = threading.Lock()

    def send(account: str | None, to: str) -> None:
        try:
            own, _ = mcp.initialize()
            for n in range(per_pair):
                arguments = {"phone_number": to, "message": f"m{n}"}
                if account is not None:
                    arguments["account"] = account
                result = call_tool(mcp, own, "whatsapp_send_message", arguments)
                if result.get("status") in ACKED:
                    with lock:
                        acked[0] += 1
                else:
                    with lock:
                        errors.append(f"status {result.get('status')}")
        except Exception as error:  # noqa: BLE001 - counted and reported below
            with lock:
                errors.append(f"{type(error).__name__}: {str(error)[:160]}")

    threads = [threading.Thread(target=send, args=pair) for pair in pairs]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acked[0], time.monotonic() - started, errors


def single_account(sim, work: pathlib.Path, idle: float, messages: int) -> Figures:
    """One account per process: the figures the many-accounts ones are set beside."""
    for index in range(2):
        assert sim.admin("POST", "/accounts", {"phone": single_phone(index), "push_name": f"S{index}"}).status == 201
    servers = []
    for index in range(2):
        mcp = single_server(sim, work / f"single-{index}")
        session, _ = mcp.initialize()
        qr = call_tool(mcp, session, "whatsapp_start_auth")["qr"]
        assert sim.admin("POST", f"/accounts/{single_phone(index)}/scan", {"qr": qr}).status == 200
        single_ready(mcp, session, time.monotonic() + 120)
        servers.append(mcp)
    sender, receiver = servers
    assert sender.stop() == 0

    # The empty process: the same binary and options on a store that was never linked.
    empty = single_server(sim, work / "single-empty")
    empty.initialize()
    time.sleep(SETTLE_S)
    base, base_fds = rss_bytes(empty.proc.pid), descriptors(empty.proc.pid)
    assert empty.stop() == 0

    start = time.monotonic()
    sender = single_server(sim, work / "single-0")
    session, _ = sender.initialize()
    single_ready(sender, session, time.monotonic() + 120)
    login = time.monotonic() - start
    meter = CPUMeter(sender.proc.pid)
    time.sleep(idle)
    cpu_idle = meter.used()
    rss, fds = rss_bytes(sender.proc.pid), descriptors(sender.proc.pid)
    single_ready(sender, session, time.monotonic() + 30)  # still logged in after the idle time

    (acked, elapsed, errors), cpu = send_cpu(
        {"sender": sender.proc.pid, "receiver": receiver.proc.pid, "wause-sim": sim.proc.pid},
        lambda: send_pairs(sender, [(None, single_phone(1))], messages))
    assert sender.stop() == 0
    assert receiver.stop() == 0
    return Figures(1, base, rss, base_fds, fds, login, cpu_idle, idle, acked, messages, 1, elapsed, errors,
                   list(sender.log_lines) + list(receiver.log_lines), cpu)


def many_accounts(sim, work: pathlib.Path, count: int, idle: float, per_pair: int) -> tuple[Figures, float]:
    for index in range(count):
        assert sim.admin("POST", "/accounts", {"phone": phone(index), "push_name": f"A{index}"}).status == 201

    # Link every account (one process), then stop.
    mcp = many_server(sim, work / "accounts")
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
    empty = many_server(sim, work / "empty")
    empty.initialize()
    time.sleep(SETTLE_S)
    base, base_fds = rss_bytes(empty.proc.pid), descriptors(empty.proc.pid)
    assert empty.stop() == 0

    # All N log in at once.
    start = time.monotonic()
    mcp = many_server(sim, work / "accounts")
    session, _ = mcp.initialize()
    all_ready(mcp, session, count, time.monotonic() + 600)
    login = time.monotonic() - start

    meter = CPUMeter(mcp.proc.pid)
    time.sleep(idle)
    cpu_idle = meter.used()
    rss, fds = rss_bytes(mcp.proc.pid), descriptors(mcp.proc.pid)
    # Every account still ready after the idle minute: keepalives answered, nobody dropped.
    all_ready(mcp, session, count, time.monotonic() + 30)

    # Up to 100 pairs (a0→a1, a2→a3, …) sending at once, as issue 16 asks.
    pairs = [(f"a{i}", phone(i + 1)) for i in range(0, min(count, 200) - 1, 2)]
    (acked, elapsed, errors), cpu = send_cpu({"wause-mcp": mcp.proc.pid, "wause-sim": sim.proc.pid},
                                             lambda: send_pairs(mcp, pairs, per_pair))
    assert mcp.stop() == 0
    figures = Figures(count, base, rss, base_fds, fds, login, cpu_idle, idle, acked, len(pairs) * per_pair,
                      len(pairs), elapsed, errors, list(mcp.log_lines), cpu)
    return figures, linked


def build_name(path: str) -> str:
    parts = pathlib.Path(path).parts
    return "release" if "release" in parts else "debug" if "debug" in parts else path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000, help="accounts in one process (default 1000, issue 16's figure)")
    parser.add_argument("--idle", type=float, default=float(os.environ.get("WAUSE_BENCH_IDLE", "60")),
                        help="idle seconds before RSS and CPU are read (default 60)")
    parser.add_argument("--messages", type=int, default=int(os.environ.get("WAUSE_BENCH_MESSAGES", "10")),
                        help="messages per pair in the many-accounts run (default 10)")
    # 50: under the default send_rate_per_minute (60), which a single pair would otherwise hit.
    parser.add_argument("--single-messages", type=int, default=50, help="messages of the single pair (default 50)")
    options = parser.parse_args()
    if options.accounts < 2:
        parser.error("--accounts: at least 2 (one pair)")

    load_before = os.getloadavg()
    work = pathlib.Path(tempfile.mkdtemp(prefix="wause-accounts-bench-"))
    sim = SimProcess(work / "sim")
    try:
        single = single_account(sim, work, options.idle, options.single_messages)
        many, linked = many_accounts(sim, work, options.accounts, options.idle, options.messages)
    finally:
        sim.stop()
    load_after = os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)

    n = options.accounts
    rss_ok = many.rss_per_account_mb <= RSS_BOUND_MB
    login_ok = many.login <= LOGIN_BOUND_S
    # The bounds are issue 16's for 1,000 accounts; with fewer the process's fixed cost is shared
    # by fewer accounts, so a quick check reports them without judging.
    judged = n >= BOUND_ACCOUNTS

    def verdict(ok: bool) -> str:
        return ("ok" if ok else "EXCEEDED") if judged else f"judged at {BOUND_ACCOUNTS:,}"
    print(f"accounts bench: wause-mcp {build_name(BINARY)}, wause-sim {build_name(SIM_BINARY)}; {os.cpu_count()} cores, "
          f"load average {load_before[0]:.2f} at start, {load_after[0]:.2f} at end")
    print(f"  {'':34} {'1 account, own process':>24} {f'{n:,} accounts, one process':>28}   bound")
    print(f"  {'RSS per idle linked account':34} {f'{single.rss_per_account_mb:.2f} MB':>24} "
          f"{f'{many.rss_per_account_mb:.2f} MB':>28}   ≤ {RSS_BOUND_MB:g} MB: {verdict(rss_ok)}")
    print(f"  {'login (start → all ready)':34} {f'{single.login:.2f} s':>24} {f'{many.login:.1f} s':>28}   "
          f"≤ {LOGIN_BOUND_S:g} s: {verdict(login_ok)}")
    print(f"  {'CPU per idle account per minute':34} {f'{single.cpu_ms_per_account_minute:.2f} ms':>24} "
          f"{f'{many.cpu_ms_per_account_minute:.2f} ms':>28}")
    pairs = f"{many.pairs} pair" + ("s" if many.pairs != 1 else "")
    print(f"  {'messages/s acked':34} {f'{single.rate:.1f} (1 pair)':>24} {f'{many.rate:.1f} ({pairs})':>28}")
    print(f"  {'open files per account':34} {f'{single.fds - single.base_fds}':>24} "
          f"{f'{(many.fds - many.base_fds) / n:.1f}':>28}")
    print(f"  details: RSS {single.base_rss / 2**20:.1f} → {single.rss / 2**20:.1f} MB (empty → 1 linked, own process); "
          f"{many.base_rss / 2**20:.1f} → {many.rss / 2**20:.1f} MB (0 → {n:,}) after {options.idle:g} s idle; "
          f"linking all {n:,} one QR scan after another {linked:.1f} s; "
          f"sends {single.acked}/{single.attempted} in {single.send_seconds:.1f} s and "
          f"{many.acked}/{many.attempted} in {many.send_seconds:.1f} s acked by the server")
    print(f"  CPU during the sends: 1 pair ({single.send_seconds:.1f} s): {single.send_cpu}; "
          f"{pairs} ({many.send_seconds:.1f} s): {many.send_cpu}")
    logged = single.logged + many.logged
    print(f"  warnings and errors logged: {len(single.logged)} (1 account), {len(many.logged)} ({n:,} accounts), of which "
          f"keepalive failures {single.keepalive_failures} and {many.keepalive_failures} "
          f"(a ping every 20–30 s: {options.idle:g} s idle is ~{options.idle / 25 * n:,.0f} pings for {n:,})")
    for line in logged[:3]:
        print("   ", line.rstrip()[:200])
    errors = single.errors + many.errors
    for error in errors[:3]:
        print("   send failed:", error)
    if (judged and not (rss_ok and login_ok)) or errors or logged or single.acked < single.attempted or many.acked < many.attempted:
        sys.exit(1)


if __name__ == "__main__":
    main()
