#if canImport(Glibc)
import Glibc
#endif
import WauseSupport

/// Data directories as the engine and wause-sim take them from configuration: `~` expanded,
/// made absolute and normalised, created 0700.
public enum DataDirectory {
    public static func absolutePath(_ path: String) throws(WauseError) -> String {
        guard !path.isEmpty else { throw .invalidRequest("data_dir must not be empty") }
        guard !path.utf8.contains(0) else { throw .invalidRequest("data_dir must not contain NUL") }
        var expanded = path
        if expanded == "~" || expanded.hasPrefix("~/"), let home = getenv("HOME") {
            expanded = String(cString: home) + expanded.dropFirst()
        }
        if !expanded.hasPrefix("/") {
            guard let pointer = getcwd(nil, 0) else { throw .internal("cannot read the working directory") }
            expanded = String(cString: pointer) + "/" + expanded
            free(pointer)
        }
        return normalized(expanded)
    }

    /// Removes `.`, `..` and repeated slashes without touching the file system, so the path the
    /// status reports is the one a person would write.
    public static func normalized(_ absolutePath: String) -> String {
        var parts: [Substring] = []
        for part in absolutePath.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `mkdir -p` with mode 0700 for the directories it creates.
    public static func createDirectory(_ path: String) throws(WauseError) {
        var partial = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            if mkdir(partial, 0o700) != 0 && errno != EEXIST {
                throw .internal("cannot create directory \(partial): \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw .invalidRequest("data_dir \(path) is not a directory", details: ["data_dir": .string(path)])
        }
    }
}
