// wause-wire: developer CLI over the wire layers (README), used by the interop tests to drive
// our codecs from independent implementations. Each subcommand lives in its own file; this file
// is only the dispatch table.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let subcommands: [Subcommand] = [
    // Binary XML codec (CodecCommands.swift)
    CodecCommands.encode,
    CodecCommands.decode,
    // Noise handshake transcripts (NoiseVectorCommand.swift); it answers --help itself.
    Subcommand(name: NoiseVectorCommand.name, summary: NoiseVectorCommand.summary, run: NoiseVectorCommand.run),
    // Noise transport throughput for make bench (NoiseBenchCommand.swift)
    NoiseBenchCommand.command,
] + LinkCodeCommands.all  // pairing-code and ADV formulas (LinkCodeCommands.swift)
    + MediaCommands.all  // media encryption, file to file (MediaCommands.swift)

exit(WireCLI.main(arguments: CommandLine.arguments, subcommands: subcommands))
