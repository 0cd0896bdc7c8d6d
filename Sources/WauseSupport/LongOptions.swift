/// The command-line form the executables share: `--name value` or `--name=value` for options
/// that take a value, and a few flags (`--help`, `-h`, `--version`) that end parsing at once.
public enum LongOptions {
    public enum Parsed: Equatable {
        /// Every valued option given, by name (without dashes); a later one wins.
        case values([String: String])
        /// One of the flags, by the name `flags` maps it to.
        case flag(String)
        /// Bad arguments: `message`, and whether the usage text should follow it.
        case failure(message: String, showUsage: Bool)
    }

    public static func parse(_ arguments: [String], valued: Set<String>, flags: [String: String]) -> Parsed {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if let flag = flags[argument] { return .flag(flag) }
            guard argument.hasPrefix("--") else { return .failure(message: "unexpected argument '\(argument)'", showUsage: true) }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard valued.contains(name) else { return .failure(message: "unknown option '--\(name)'", showUsage: true) }
            if value == nil {
                guard index < arguments.count else { return .failure(message: "option '--\(name)' needs a value", showUsage: false) }
                value = arguments[index]
                index += 1
            }
            values[name] = value
        }
        return .values(values)
    }
}
