#if canImport(Glibc)
import Glibc
#endif
import WauseSupport

/// Blocking file work of the media methods (the intake's copy and hash, the encryption of the
/// copy: up to media_max_bytes of reads and writes) runs on a pthread of its own, so it does not
/// hold one of the cooperative pool's few threads (as many as CPUs) that the connection, the
/// outbox and every other task need meanwhile. MediaIntake's own note asks callers for this.
enum BlockingFileWork {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(WauseError) -> T) async throws(WauseError) -> T {
        let result: Result<T, WauseError> = await withCheckedContinuation { continuation in
            let work = Work {
                do throws(WauseError) { continuation.resume(returning: .success(try body())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { argument in
                Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, Unmanaged.passRetained(work).toOpaque())
            if started == 0 {
                pthread_detach(thread)
            } else {
                // No thread to be had: do it here rather than fail the call.
                work.run()
            }
        }
        return try result.get()
    }

    private final class Work {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
