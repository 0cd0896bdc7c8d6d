/// Progress a long-running method reports while it works (MCP `notifications/progress`), for
/// hosts that can forward it. A task-local, so a method reports without knowing its host; where
/// no host listens (C API, bindings) reporting does nothing.
public struct MethodProgress: Sendable {
    public let report: @Sendable (_ progress: Double, _ total: Double?, _ message: String?) -> Void

    public init(report: @escaping @Sendable (Double, Double?, String?) -> Void) { self.report = report }

    @TaskLocal public static var current: MethodProgress?

    static func report(_ progress: Double, total: Double?, message: String?) {
        current?.report(progress, total, message)
    }
}
