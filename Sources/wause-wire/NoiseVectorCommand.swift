import WauseCrypto
import WauseSupport
import WauseTransport

/// `wause-wire noise-vector`: runs WhatsApp's Noise handshake (WauseTransport `NoiseTranscript`)
/// from fixed keys and prints the whole transcript as one JSON object of hex strings — each
/// handshake message, the hash after each step, the final handshake hash, the transport keys and
/// one encrypted frame each way — so that tests/interop can compare it byte for byte with
/// independent Noise implementations.
enum NoiseVectorCommand {
    static let help = """
    usage: wause-wire noise-vector [options]

    Runs the Noise XX handshake of whatsmeow handshake.go doHandshake with fixed keys and prints the
    transcript as one JSON object whose values are hex strings, in the order they arise:
    protocol_name, prologue, the public keys, certificate_chain, hash_after_prologue, client_hello,
    first_websocket_message, hash_after_client_hello, server_hello, hash_after_server_hello,
    client_finish, decrypted_* (what each side learned), handshake_hash, client_to_server_key,
    server_to_client_key, client_frame_ciphertext, server_frame_ciphertext.

    Keys (32-byte private keys as hex; defaults 0101…, 0202…, 0303…, 0404…, 0505…, 0606…):
      --client-static HEX  --client-ephemeral HEX  --server-static HEX  --server-ephemeral HEX
      --root HEX           root of the certificate chain (the client trusts its public key)
      --intermediate HEX   the intermediate certificate's key
    Other inputs:
      --payload HEX               ClientFinish payload, e.g. a serialized ClientPayload (default empty)
      --now N                     Unix seconds for the certificate check (default 1700000000)
      --not-before N --not-after N  both certificates' validity (default 1600000000, 2000000000)
      --intermediate-serial N --leaf-serial N  (default 1 and 2)
      --signature-random HEX      64 bytes mixed into the XEdDSA certificate signatures (default zeros)
      --client-frame HEX --server-frame HEX  one transport frame each way, sent with counter 0
      --pretty                    indent the JSON
    Whose messages are ours:
      --mode both        our initiator and our responder (default)
      --mode initiator   our client answers --server-hello HEX (a HandshakeMessage from elsewhere)
      --mode responder   our server answers --client-hello HEX, then reads --client-finish HEX if given

    Bad arguments exit with status 2; a failed handshake prints {"error": "..."} and exits 1.

    """

    static let name = "noise-vector"
    static let summary = "Noise handshake transcript from fixed keys (JSON of hex), for interop tests"

    /// The dispatch-table entry: `NoiseVectorCommand.command` (or, equivalently,
    /// `Subcommand(name: NoiseVectorCommand.name, summary: NoiseVectorCommand.summary, run: NoiseVectorCommand.run)`,
    /// in which case `run` answers --help itself).
    static let command = Subcommand(name: name, summary: summary, help: help, run: run)

    static let valuedOptions: Set<String> = [
        "--client-static", "--client-ephemeral", "--server-static", "--server-ephemeral", "--root", "--intermediate",
        "--payload", "--now", "--not-before", "--not-after", "--intermediate-serial", "--leaf-serial", "--signature-random",
        "--client-frame", "--server-frame", "--mode", "--server-hello", "--client-hello", "--client-finish",
    ]

    @Sendable static func run(_ arguments: [String]) -> Int32 {
        if arguments.contains("-h") || arguments.contains("--help") {
            WireCLI.writeStdout(help)
            return 0
        }
        let inputs: NoiseTranscript.Inputs
        let mode: NoiseTranscript.Mode
        let pretty: Bool
        do throws(CommandFailure) {
            let options = try WireCLI.parseOptions(arguments, flags: ["--pretty"], valued: valuedOptions)
            (inputs, mode) = try parse(options.values)
            pretty = options.flags.contains("--pretty")
        } catch {
            WireCLI.writeStderr("\(WireCLI.toolName) noise-vector: \(error.message)\n")
            return error.exitCode
        }
        var output: JSONObject
        let status: Int32
        do {
            let transcript = try NoiseTranscript(inputs: inputs, mode: mode)
            output = ["mode": .string(mode.rawValue)]
            for entry in transcript.entries { output[entry.name] = .string(Hex.encode(entry.bytes)) }
            status = 0
        } catch {
            output = ["error": .string(error.description)]
            status = 1
        }
        let json = JSONValue.object(output)
        WireCLI.writeStdout((pretty ? json.prettyPrinted : json.serialized) + "\n")
        return status
    }

    static func parse(_ values: [String: String]) throws(CommandFailure) -> (NoiseTranscript.Inputs, NoiseTranscript.Mode) {
        func bytes(_ option: String) throws(CommandFailure) -> [UInt8]? {
            guard let text = values[option] else { return nil }
            guard let decoded = Hex.decode(text) else { throw .badInput("\(option): not hex: \(text)") }
            return decoded
        }
        func number<T: FixedWidthInteger>(_ option: String, _: T.Type) throws(CommandFailure) -> T? {
            guard let text = values[option] else { return nil }
            guard let parsed = T(text) else { throw .badInput("\(option): not a number in range: \(text)") }
            return parsed
        }
        func key(_ option: String, default fill: UInt8) throws(CommandFailure) -> [UInt8] {
            try bytes(option) ?? [UInt8](repeating: fill, count: 32)
        }
        var inputs = NoiseTranscript.Inputs(
            clientStaticPrivateKey: try key("--client-static", default: 1),
            clientEphemeralPrivateKey: try key("--client-ephemeral", default: 2),
            serverStaticPrivateKey: try key("--server-static", default: 3),
            serverEphemeralPrivateKey: try key("--server-ephemeral", default: 4),
            rootPrivateKey: try key("--root", default: 5),
            intermediatePrivateKey: try key("--intermediate", default: 6),
            clientPayload: try bytes("--payload") ?? [])
        if let value = try number("--now", UInt64.self) { inputs.now = value }
        if let value = try number("--not-before", UInt64.self) { inputs.notBefore = value }
        if let value = try number("--not-after", UInt64.self) { inputs.notAfter = value }
        if let value = try number("--intermediate-serial", UInt32.self) { inputs.intermediateSerial = value }
        if let value = try number("--leaf-serial", UInt32.self) { inputs.leafSerial = value }
        if let value = try bytes("--signature-random") { inputs.signatureRandom = value }
        if let value = try bytes("--client-frame") { inputs.clientFrame = value }
        if let value = try bytes("--server-frame") { inputs.serverFrame = value }
        inputs.serverHello = try bytes("--server-hello")
        inputs.clientHello = try bytes("--client-hello")
        inputs.clientFinish = try bytes("--client-finish")
        let modeName = values["--mode"] ?? NoiseTranscript.Mode.both.rawValue
        guard let mode = NoiseTranscript.Mode(rawValue: modeName) else {
            throw .badInput("--mode must be both, initiator or responder, not \(modeName)")
        }
        return (inputs, mode)
    }
}
