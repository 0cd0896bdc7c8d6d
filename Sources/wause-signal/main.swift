// wause-signal: a developer CLI over wause's Signal layer, hex in and out, so independent Signal
// implementations (python-axolotl and friends) can test ours from a subprocess (DESIGN.md).
//
// Exit status: 0 success, 1 a clean negative answer (`verify` → invalid), 2 bad usage or input,
// 3 a Signal protocol failure (its code, e.g. `bad_mac`, starts the message on stderr).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to a file descriptor directly: the C `stderr` global is not concurrency-safe to touch
/// from Swift 6, and `print` only reaches stdout.
func writeLine(_ text: String, to fileDescriptor: Int32) {
    var bytes = Array(text.utf8)
    bytes.append(UInt8(ascii: "\n"))
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fileDescriptor, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}

func generalUsage() -> String {
    var lines = ["usage: wause-signal <command> [options]", "", "commands:"]
    for command in Command.all {
        lines.append("  \(command.synopsis)")
        lines.append("      \(command.summary)")
    }
    lines.append("")
    lines.append("All byte strings are hex. Exit status: 0 ok, 1 negative answer (verify: invalid), 2 bad usage or input,")
    lines.append("3 Signal protocol failure (stderr: 'wause-signal <command>: <code>: <message>').")
    lines.append("Run 'wause-signal <command> --help' for one command.")
    return lines.joined(separator: "\n")
}

func commandUsage(_ command: Command) -> String {
    "usage: \(command.synopsis)\n\n\(command.summary)"
}

func runWauseSignal(_ arguments: [String]) -> Int32 {
    let words = arguments.dropFirst()
    guard let commandName = words.first else {
        writeLine(generalUsage(), to: 2)
        return 2
    }
    if ["--help", "-h", "help"].contains(commandName) {
        writeLine(generalUsage(), to: 1)
        return 0
    }
    guard let command = Command.named(commandName) else {
        writeLine("wause-signal: unknown command '\(commandName)'\n\n\(generalUsage())", to: 2)
        return 2
    }
    var output = CommandOutput()
    let status: Int32
    do {
        let parsed = try CommandLineArguments(words.dropFirst(), valueOptions: command.valueOptions, flagOptions: command.flagOptions)
        if parsed.flags.contains("help") {
            writeLine(commandUsage(command), to: 1)
            return 0
        }
        status = try command.run(parsed, &output)
    } catch {
        switch error {
        case let .usage(message):
            writeLine("wause-signal \(command.name): \(message)\n\n\(commandUsage(command))", to: 2)
        case let .invalidInput(message):
            writeLine("wause-signal \(command.name): \(message)", to: 2)
        case .signal:
            writeLine("wause-signal \(command.name): \(error.message)", to: 2)
            return 3
        }
        return 2
    }
    for line in output.standardOutput { writeLine(line, to: 1) }
    for line in output.standardError { writeLine(line, to: 2) }
    return status
}

exit(runWauseSignal(CommandLine.arguments))
