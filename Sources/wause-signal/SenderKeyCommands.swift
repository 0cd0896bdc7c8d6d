import WauseCrypto
import WauseSignal
import WauseSupport

/// `sk-create`, `sk-process`, `sk-encrypt` and `sk-decrypt`: Signal sender keys (groups) over the
/// same `--state FILE` as the session commands, so an independent group cipher (python-axolotl's
/// GroupCipher) can exchange `skmsg`s with ours across processes. Every command names the sender
/// key by `--group G` and `--sender P`: our own device to create and encrypt, the member's to
/// process its distribution message and decrypt.
enum SenderKeyCommands {
    static let create = Command(
        name: "sk-create",
        synopsis: "wause-signal sk-create --state FILE --group G --sender P",
        summary: """
            Create our sender key for group G as device P if we have none (FILE is created if missing) and print \
            the distribution message: {"skdm":HEX,"key_id":N,"iteration":N}. The SKDM carries the chain where \
            it stands now, so it can be printed again later for a new member.
            """,
        valueOptions: ["state", "group", "sender"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        var state = StateFile.exists(path) ? try StateFile.load(path) : try StateFile.create()
        let name = try senderKeyName(arguments)
        let message = try SessionCommands.signal { try GroupSessionBuilder(store: state.store).create(for: name) }
        state.replenishPreKey()
        try state.save(path)
        output.print(JSONValue.object([
            "skdm": .string(Hex.encode(message.serialized)), "key_id": .int(Int64(message.keyId)),
            "iteration": .int(Int64(message.iteration)),
        ]).serialized)
        return 0
    }

    static let process = Command(
        name: "sk-process",
        synopsis: "wause-signal sk-process --state FILE --group G --sender P --skdm HEX",
        summary: """
            Store the sender key that member device P distributed for group G (FILE is created if missing). \
            The same key id with the same signing key keeps what we have; with a new signing key it replaces it.
            """,
        valueOptions: ["state", "group", "sender", "skdm"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        var state = StateFile.exists(path) ? try StateFile.load(path) : try StateFile.create()
        let name = try senderKeyName(arguments)
        let bytes = try arguments.requiredHexBytes("skdm")
        try SessionCommands.signal {
            try GroupSessionBuilder(store: state.store).process(SenderKeyDistributionMessage(serialized: bytes), from: name)
        }
        state.replenishPreKey()
        try state.save(path)
        return 0
    }

    static let encrypt = Command(
        name: "sk-encrypt",
        synopsis: "wause-signal sk-encrypt --state FILE --group G --sender P --pt HEX",
        summary: """
            Encrypt the plaintext for group G with our sender key (device P) and print \
            {"type":"skmsg","ciphertext":HEX,"key_id":N,"iteration":N}. No sender key of our own: no_sender_key, exit 3.
            """,
        valueOptions: ["state", "group", "sender", "pt"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        let state = try StateFile.load(path)
        let name = try senderKeyName(arguments)
        let plaintext = try arguments.requiredHexBytes("pt")
        let message = try SessionCommands.signal { try GroupCipher(name: name, store: state.store).encrypt(plaintext) }
        try state.save(path)
        output.print(JSONValue.object([
            "type": .string("skmsg"), "ciphertext": .string(Hex.encode(message.serialized)),
            "key_id": .int(Int64(message.keyId)), "iteration": .int(Int64(message.iteration)),
        ]).serialized)
        return 0
    }

    static let decrypt = Command(
        name: "sk-decrypt",
        synopsis: "wause-signal sk-decrypt --state FILE --group G --sender P --ct HEX",
        summary: """
            Decrypt an skmsg that member device P sent to group G and print the plaintext in hex. Failures print \
            the error's code (no_sender_key, invalid_sender_key_signature, duplicate_message, invalid_message) \
            and exit 3; the state file is then left unchanged.
            """,
        valueOptions: ["state", "group", "sender", "ct"]
    ) { arguments, output throws(CommandLineError) in
        let path = try arguments.required("state")
        let state = try StateFile.load(path)
        let name = try senderKeyName(arguments)
        let ciphertext = try arguments.requiredHexBytes("ct")
        let plaintext = try SessionCommands.signal {
            try GroupCipher(name: name, store: state.store).decrypt(SenderKeyMessage(serialized: ciphertext))
        }
        try state.save(path)
        output.print(Hex.encode(plaintext))
        return 0
    }

    /// `--group G --sender P`, P as `--peer` is read by the session commands.
    static func senderKeyName(_ arguments: CommandLineArguments) throws(CommandLineError) -> SenderKeyName {
        let group = try arguments.required("group")
        guard !group.isEmpty, !group.contains("::") else { throw .invalidInput("--group must be non-empty and must not contain '::'") }
        let sender = try SessionCommands.address(try arguments.required("sender"), option: "sender")
        return SenderKeyName(groupId: group, sender: sender)
    }
}
