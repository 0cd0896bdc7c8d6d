#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed with everything in it when the object is released.
///
/// Tests use real files (a real SQLite store, the simulator's state) rather than mocks, so each
/// test needs a place of its own that cannot collide with a parallel test or a previous run.
/// `prefix` names the directory (`/tmp/<prefix>-XXXXXX`) so that leftovers of a crashed run
/// show which test target made them.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "wause-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }

    deinit { _ = system("rm -rf '\(path)'") }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }
}
