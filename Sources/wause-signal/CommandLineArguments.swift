import WauseCrypto
import WauseSignal

/// Parsing for `wause-signal <command> [--option value]... [--flag]...`, written by hand because the
/// CLI takes no dependencies. Each command declares the options it knows; anything else (unknown
/// options, repeats, missing values, stray positional words) is a usage error, exit code 2.
struct CommandLineArguments {
    /// Options given with a value, by name without the leading dashes.
    private(set) var values: [String: String] = [:]
    /// Boolean flags given (e.g. `help`).
    private(set) var flags: Set<String> = []

    /// Parses the words after the command name against the command's declared options and flags.
    init(_ words: ArraySlice<String>, valueOptions: Set<String>, flagOptions: Set<String>) throws(CommandLineError) {
        var remaining = words[...]
        while let word = remaining.popFirst() {
            guard word.hasPrefix("--"), word.count > 2 else {
                throw .usage("unexpected argument '\(word)'")
            }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if flagOptions.contains(name) {
                guard inlineValue == nil else { throw .usage("--\(name) takes no value") }
                flags.insert(name)
            } else if valueOptions.contains(name) {
                guard values[name] == nil else { throw .usage("--\(name) given more than once") }
                if let inlineValue {
                    values[name] = inlineValue
                } else if let next = remaining.popFirst(), !next.hasPrefix("--") {
                    values[name] = next
                } else {
                    throw .usage("--\(name) needs a value")
                }
            } else {
                throw .usage("unknown option --\(name)")
            }
        }
    }

    /// The value of an option the command cannot run without.
    func required(_ name: String) throws(CommandLineError) -> String {
        guard let value = values[name] else { throw .usage("missing required option --\(name)") }
        return value
    }

    /// Decodes an option's value as hex, naming the option in the error.
    func hexBytes(_ name: String) throws(CommandLineError) -> [UInt8]? {
        guard let text = values[name] else { return nil }
        guard let bytes = Hex.decode(text) else {
            throw .invalidInput("--\(name) must be an even number of hex digits")
        }
        return bytes
    }

    func requiredHexBytes(_ name: String) throws(CommandLineError) -> [UInt8] {
        _ = try required(name)
        return try hexBytes(name)!
    }

    /// Decodes an optional hex option and checks its length, so the error names the option.
    func hexBytes(_ name: String, count: Int) throws(CommandLineError) -> [UInt8]? {
        guard let bytes = try hexBytes(name) else { return nil }
        guard bytes.count == count else { throw .invalidInput("--\(name) must be \(count) bytes, got \(bytes.count)") }
        return bytes
    }

    func requiredHexBytes(_ name: String, count: Int) throws(CommandLineError) -> [UInt8] {
        _ = try required(name)
        return try hexBytes(name, count: count)!
    }
}

/// Why a command could not run. Usage and input errors exit with status 2, Signal protocol
/// failures with 3 (status 1 is reserved for a clean negative answer such as `verify` → `invalid`).
enum CommandLineError: Error {
    /// The command line itself is malformed; the command's usage is printed after the message.
    case usage(String)
    /// The command line is well-formed but a value is unusable (bad hex, wrong key length, ...).
    case invalidInput(String)
    /// The Signal layer refused the operation (bad MAC, duplicate, untrusted identity, ...).
    case signal(SignalError)

    var message: String {
        switch self {
        case let .usage(message), let .invalidInput(message): return message
        case let .signal(error): return "\(error.code): \(error)"
        }
    }
}
