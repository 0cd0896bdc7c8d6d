#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `wause-wire <name>` command. Each lives in its own file and is listed in main.swift.
struct Subcommand: Sendable {
    let name: String
    /// One line for the command list of `wause-wire --help`.
    let summary: String
    /// The full text of `wause-wire <name> --help`; nil when the command answers --help itself.
    let help: String?
    /// Runs with the arguments after the subcommand name and returns the exit status.
    let run: @Sendable (_ arguments: [String]) -> Int32

    init(name: String, summary: String, help: String? = nil, run: @escaping @Sendable (_ arguments: [String]) -> Int32) {
        self.name = name
        self.summary = summary
        self.help = help
        self.run = run
    }

    /// A command that reports failure by throwing: the message goes to stderr, prefixed with
    /// `wause-wire <name>:`, and the failure's exit code is returned.
    init(name: String, summary: String, help: String, throwing body: @escaping @Sendable (_ arguments: [String]) throws(CommandFailure) -> Void) {
        self.init(name: name, summary: summary, help: help, run: { arguments -> Int32 in
            do throws(CommandFailure) {
                try body(arguments)
                return 0
            } catch {
                WireCLI.writeStderr("\(WireCLI.toolName) \(name): \(error.message)\n")
                return error.exitCode
            }
        })
    }
}

/// Why a command stopped. The message goes to stderr, prefixed with the command's name.
struct CommandFailure: Error {
    /// Bad input or bad usage: the caller has something to fix.
    static let badInputExitCode: Int32 = 2

    var message: String
    var exitCode: Int32 = CommandFailure.badInputExitCode

    static func badInput(_ message: String) -> CommandFailure { CommandFailure(message: message) }
}

/// Process plumbing shared by the subcommands.
enum WireCLI {
    static let toolName = "wause-wire"

    /// Dispatches `arguments` (as in `CommandLine.arguments`) and returns the exit status.
    static func main(arguments: [String], subcommands: [Subcommand]) -> Int32 {
        let arguments = Array(arguments.dropFirst())
        guard let name = arguments.first else {
            writeStderr(usage(subcommands))
            return CommandFailure.badInputExitCode
        }
        if ["-h", "--help", "help"].contains(name) {
            writeStdout(usage(subcommands))
            return 0
        }
        guard let command = subcommands.first(where: { $0.name == name }) else {
            writeStderr("\(toolName): unknown subcommand \"\(name)\"\n\n" + usage(subcommands))
            return CommandFailure.badInputExitCode
        }
        let rest = Array(arguments.dropFirst())
        if let help = command.help, rest.contains("-h") || rest.contains("--help") {
            writeStdout(help)
            return 0
        }
        return command.run(rest)
    }

    static func usage(_ subcommands: [Subcommand]) -> String {
        let width = subcommands.map(\.name.count).max() ?? 0
        let lines = subcommands.map { "  \($0.name)\(String(repeating: " ", count: width - $0.name.count))  \($0.summary)" }
        return """
        usage: \(toolName) <subcommand> [options]   (stdin in, stdout out)

        Developer CLI over wause's wire layers, for tests against independent implementations.

        subcommands:
        \(lines.joined(separator: "\n"))

        `\(toolName) <subcommand> --help` describes each one. Bad input exits with status 2.

        """
    }

    /// Everything on standard input.
    static func readStdin() throws(CommandFailure) -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw CommandFailure(message: "cannot read standard input (errno \(errno))", exitCode: 1)
            }
            data.append(contentsOf: chunk[0..<count])
        }
    }

    static func writeStdout(_ text: String) { writeAll(1, Array(text.utf8)) }
    static func writeStderr(_ text: String) { writeAll(2, Array(text.utf8)) }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { return }
            written += result
        }
    }

    /// Splits options (`--name`, `--name=value`) from positional arguments; unknown options fail.
    static func parseOptions(_ arguments: [String], flags: Set<String>, valued: Set<String> = []) throws(CommandFailure) -> (flags: Set<String>, values: [String: String]) {
        var seenFlags: Set<String> = []
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if let equals = argument.firstIndex(of: "="), valued.contains(String(argument[..<equals])) {
                values[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
            } else if valued.contains(argument) {
                guard index + 1 < arguments.count else { throw .badInput("\(argument) needs a value") }
                values[argument] = arguments[index + 1]
                index += 1
            } else if flags.contains(argument) {
                seenFlags.insert(argument)
            } else {
                throw .badInput("unknown argument \"\(argument)\" (see --help)")
            }
            index += 1
        }
        return (seenFlags, values)
    }
}
