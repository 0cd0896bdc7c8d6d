#if canImport(Glibc)
import Glibc
#endif

/// The real wall clock, for the places that take a clock as a parameter (the engine injects its
/// own through `Environment`; this is the default outside it).
public enum WallClock {
    @Sendable public static func now() -> UnixTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixTime(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}
