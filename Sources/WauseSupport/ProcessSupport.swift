#if canImport(Glibc)
import Glibc
#endif

/// What the executables (wause-mcp, wause-sim) share about being a process: stopping on SIGINT or
/// SIGTERM, and writing whole lines to stdout/stderr.
public enum ProcessSupport {
    /// Blocks SIGINT and SIGTERM (and ignores SIGPIPE) for the calling thread and every thread it
    /// starts later, so that only `waitForStopSignal` receives them. Call first thing in main.
    public static func blockStopSignals() {
        var signals = stopSignals()
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Waits for SIGINT or SIGTERM and returns which one came.
    public static func waitForStopSignal() -> Int32 {
        var signals = stopSignals()
        var received: Int32 = 0
        sigwait(&signals, &received)
        return received
    }

    private static func stopSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }

    /// Writes all of `bytes` to a file descriptor with write(2) — unbuffered, so a line a test
    /// waits for is out at once — retrying short writes and EINTR.
    public static func write(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 {
                if written < 0 && errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    public static func write(_ descriptor: Int32, _ text: String) { write(descriptor, Array(text.utf8)) }
}
