/// One `wause-signal` subcommand: what it accepts, how it is described in `--help`, and what it does.
/// The session commands (init, process-bundle, encrypt, decrypt) and the sender-key commands
/// (sk-create, sk-process, sk-encrypt, sk-decrypt) take a `--state FILE` each.
struct Command: Sendable {
    let name: String
    let synopsis: String
    let summary: String
    let valueOptions: Set<String>
    let flagOptions: Set<String>
    /// Runs the command; returns the process exit status (0 success, 1 a negative answer).
    let run: @Sendable (CommandLineArguments, inout CommandOutput) throws(CommandLineError) -> Int32

    init(name: String, synopsis: String, summary: String, valueOptions: Set<String>, flagOptions: Set<String> = [],
         run: @escaping @Sendable (CommandLineArguments, inout CommandOutput) throws(CommandLineError) -> Int32) {
        self.name = name
        self.synopsis = synopsis
        self.summary = summary
        self.valueOptions = valueOptions
        self.flagOptions = flagOptions.union(["help"])
        self.run = run
    }

    static let all: [Command] = [
        KeyCommands.keypair, KeyCommands.sign, KeyCommands.verify,
        SessionCommands.initialize, SessionCommands.processBundle, SessionCommands.encrypt, SessionCommands.decrypt,
        SenderKeyCommands.create, SenderKeyCommands.process, SenderKeyCommands.encrypt, SenderKeyCommands.decrypt,
    ]

    static func named(_ name: String) -> Command? { all.first { $0.name == name } }
}

/// What a command prints, collected so `main` writes it in one place (and tests could capture it).
struct CommandOutput {
    var standardOutput: [String] = []
    var standardError: [String] = []

    mutating func print(_ line: String) { standardOutput.append(line) }
    mutating func printError(_ line: String) { standardError.append(line) }
}
