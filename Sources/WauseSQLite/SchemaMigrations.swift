import WauseSupport
/// A schema as an append-only list of migrations. Migration N brings a database from schema
/// version N-1 to N; `PRAGMA user_version` records where a file is. Never edit a migration that
/// has shipped: add a new one. The engine's store and wause-sim's state each have one.
public struct SchemaMigrations: Sendable {
    public let name: String
    public let steps: [String]

    public init(name: String, steps: [String]) {
        self.name = name
        self.steps = steps
    }

    public var latestVersion: Int64 { Int64(steps.count) }

    /// Brings the database to the latest version, each step in its own transaction. A file written
    /// by a newer version is refused rather than misread.
    public func migrate(_ connection: SQLiteConnection, path: String) throws(WauseError) {
        let current = try connection.scalar("PRAGMA user_version")
        if current > latestVersion {
            throw WauseError(
                .internal,
                "\(name) \(path) has schema version \(current), newer than this build understands (\(latestVersion)); use a newer build or another data directory",
                details: ["schema_version": .int(current), "supported_version": .int(latestVersion)])
        }
        var version = current
        while version < latestVersion {
            version += 1
            let script = steps[Int(version) - 1]
            try connection.transaction { () throws(WauseError) in
                try connection.executeScript(script)
                try connection.executeScript("PRAGMA user_version = \(version)")
            }
        }
    }
}
