import WauseCrypto
import WauseSignal
import WauseSupport

/// `init`, `process-bundle`, `encrypt` and `decrypt`: one party's Signal sessions, its state in a
/// JSON file (`StateFile`), so an independent implementation (python-axolotl) can hold
/// conversations with ours across processes.
enum SessionCommands {
    static let initialize = Command(
        name: "init",
        synopsis: "wause-signal init --state FILE",
        summary: """
            Create FILE (0600) with a new identity, registration id, signed prekey (id 1) and one one-time \
            prekey if it does not exist, and print our bundle as JSON: registration_id, identity_key, \
            signed_prekey_id, signed_prekey_public, signed_prekey_signature, prekey_id, prekey_public (keys \
            33-byte 05-prefixed hex). On an existing FILE it prints the bundle again, first adding a new \
            one-time prekey if the last one was consumed.
            """,
        valueOptions: ["state"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        var state = StateFile.exists(path) ? try StateFile.load(path) : try StateFile.create()
        state.replenishPreKey()
        try state.save(path)
        output.print(state.bundleJSON().serialized)
        return 0
    }

    static let processBundle = Command(
        name: "process-bundle",
        synopsis: "wause-signal process-bundle --state FILE --peer P --bundle JSON",
        summary: """
            Start a session with P from its bundle (the JSON that init prints; prekey_id/prekey_public may be \
            absent or null). The signed prekey signature is verified. P is a device JID \
            (user[.agent][:device]@server, mapped as WhatsApp does) or name[:device] (device 0 if absent).
            """,
        valueOptions: ["state", "peer", "bundle"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        let state = try StateFile.load(path)
        let peer = try peerAddress(arguments)
        let bundle = try parseBundle(try arguments.required("bundle"), deviceId: peer.deviceId)
        try signal { try SessionBuilder(address: peer, store: state.store).process(bundle) }
        try state.save(path)
        return 0
    }

    static let encrypt = Command(
        name: "encrypt",
        synopsis: "wause-signal encrypt --state FILE --peer P --pt HEX",
        summary: """
            Encrypt the plaintext for P and print {"type":"pkmsg"|"msg","ciphertext":HEX}. The plaintext is \
            taken as is (WhatsApp's own random padding, if wanted, is the caller's).
            """,
        valueOptions: ["state", "peer", "pt"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        let state = try StateFile.load(path)
        let peer = try peerAddress(arguments)
        let plaintext = try arguments.requiredHexBytes("pt")
        let message = try signal { try SessionCipher(address: peer, store: state.store).encrypt(plaintext) }
        try state.save(path)
        output.print(JSONValue.object(["type": .string(message.type), "ciphertext": .string(Hex.encode(message.serialized))]).serialized)
        return 0
    }

    static let decrypt = Command(
        name: "decrypt",
        synopsis: "wause-signal decrypt --state FILE --peer P --type pkmsg|msg --ct HEX",
        summary: """
            Decrypt a message from P and print the plaintext in hex. A pkmsg starts (or repeats) a session and \
            consumes the one-time prekey it names. Failures print the error's code (bad_mac, duplicate_message, \
            invalid_key_id, untrusted_identity, ...) and exit 3; the state file is then left unchanged.
            """,
        valueOptions: ["state", "peer", "type", "ct"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        let state = try StateFile.load(path)
        let peer = try peerAddress(arguments)
        let ciphertext = try arguments.requiredHexBytes("ct")
        let cipher = SessionCipher(address: peer, store: state.store)
        let plaintext: [UInt8]
        switch try arguments.required("type") {
        case "pkmsg": plaintext = try signal { try cipher.decrypt(PreKeySignalMessage(serialized: ciphertext)) }
        case "msg": plaintext = try signal { try cipher.decrypt(SignalMessage(serialized: ciphertext)) }
        case let other: throw .usage("--type must be pkmsg or msg, got '\(other)'")
        }
        try state.save(path)
        output.print(Hex.encode(plaintext))
        return 0
    }

    // MARK: Helpers

    static func peerAddress(_ arguments: CommandLineArguments) throws(CommandLineError) -> SignalAddress {
        try address(try arguments.required("peer"), option: "peer")
    }

    /// A device JID (mapped as WhatsApp does) or `name[:device]` (device 0 if absent).
    static func address(_ text: String, option: String) throws(CommandLineError) -> SignalAddress {
        if text.contains("@") {
            guard let address = SignalAddress(jid: text) else { throw .invalidInput("--\(option) '\(text)' is not a device JID") }
            return address
        }
        if text.contains(":") { return try StateFile.address(text) }
        guard !text.isEmpty else { throw .invalidInput("--\(option) is empty") }
        return SignalAddress(name: text, deviceId: 0)
    }

    static func parseBundle(_ text: String, deviceId: UInt32) throws(CommandLineError) -> PreKeyBundle {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw .invalidInput("--bundle: \(error)") }
        func number(_ name: String) throws(CommandLineError) -> UInt32? {
            guard let value = json[name], !value.isNull else { return nil }
            guard let number = value.intValue, let result = UInt32(exactly: number) else {
                throw .invalidInput("--bundle: \(name) must be a 32-bit unsigned integer")
            }
            return result
        }
        func bytes(_ name: String) throws(CommandLineError) -> [UInt8]? {
            guard let value = json[name], !value.isNull else { return nil }
            guard let text = value.stringValue, let bytes = Hex.decode(text) else { throw .invalidInput("--bundle: \(name) must be hex") }
            return bytes
        }
        func required<T>(_ value: T?, _ name: String) throws(CommandLineError) -> T {
            guard let value else { throw .invalidInput("--bundle: missing \(name)") }
            return value
        }
        return try signal {
            try PreKeyBundle(
                registrationId: try required(try number("registration_id"), "registration_id"), deviceId: deviceId,
                preKeyId: try number("prekey_id"), preKeyPublic: try bytes("prekey_public"),
                signedPreKeyId: try required(try number("signed_prekey_id"), "signed_prekey_id"),
                signedPreKeyPublic: try required(try bytes("signed_prekey_public"), "signed_prekey_public"),
                signedPreKeySignature: try required(try bytes("signed_prekey_signature"), "signed_prekey_signature"),
                identityKey: try IdentityKey(try required(try bytes("identity_key"), "identity_key")))
        }
    }

    /// Runs a Signal operation, turning its errors into the CLI's.
    static func signal<T>(_ body: () throws -> T) throws(CommandLineError) -> T {
        do {
            return try body()
        } catch let error as CommandLineError {
            throw error
        } catch let error as SignalError {
            throw .signal(error)
        } catch {
            throw .invalidInput("\(error)")
        }
    }
}
