import WauseCrypto
import WauseSupport
import WauseProtocol

/// The pairing-code and ADV formulas (WauseCore `LinkCodeCrypto`, `ADVIdentity`; whatsmeow
/// pair.go handlePair, pair-code.go) with every input given on the command line, so that
/// tests/interop/test_pairing_code_crypto.py can compare them with values it derives itself.
/// Binary inputs and outputs are hex; a malformed input exits 2, a bundle that does not open or a
/// key that is not in the prime-order subgroup exits 1.
enum LinkCodeCommands {
    static let all: [Subcommand] = [
        encode, wrap, unwrap, sealBundle, openBundle, advSecret, advHMAC, advMessage, x25519, primeOrder,
    ]

    static let encode = command(
        "link-code-encode", "5 bytes -> the 8-symbol linking code (whatsmeow pair-code.go PairPhone)",
        usage: "--bytes HEX [--display]",
        details: """
        Prints the code for 5 bytes (alphabet 123456789ABCDEFGHJKLMNPQRSTVWXYZ, RFC 4648 bit order).
        --display prints it as XXXX-XXXX.
        """,
        flags: ["--display"], valued: ["--bytes"]
    ) { options throws(CommandFailure) in
        let code = LinkCodeCrypto.encode(try hex(options, "--bytes", count: 5))
        return options.flags.contains("--display") ? LinkCodeCrypto.display(code) : code
    }

    static let wrap = command(
        "link-code-wrap", "wrap a 32-byte public key under a code (whatsmeow pair-code.go generateCompanionEphemeralKey): 80 bytes",
        usage: "--code CODE --salt HEX --iv HEX --key HEX",
        details: """
        Prints salt(32) ‖ iv(16) ‖ AES-256-CTR(PBKDF2-SHA256(code, salt, 131072), iv)(key). The code
        is used as given (8 symbols, no dash).
        """,
        valued: ["--code", "--salt", "--iv", "--key"]
    ) { options throws(CommandFailure) in
        let code = try text(options, "--code")
        let (salt, iv, key) = (try hex(options, "--salt", count: 32), try hex(options, "--iv", count: 16),
                               try hex(options, "--key", count: 32))
        return Hex.encode(try crypto { () throws(LinkCodeCrypto.Failure) in
            try LinkCodeCrypto.wrap(publicKey: key, code: code, salt: salt, iv: iv)
        })
    }

    static let unwrap = command(
        "link-code-unwrap", "the 32-byte key inside an 80-byte wrapped key (whatsmeow pair-code.go handleCodePairNotification)",
        usage: "--code CODE --wrapped HEX",
        details: """
        Prints AES-256-CTR-decrypt(PBKDF2(code, w[0:32]), iv = w[32:48])(w[48:80]). There is no tag:
        a wrong code prints other bytes.
        """,
        valued: ["--code", "--wrapped"]
    ) { options throws(CommandFailure) in
        let code = try text(options, "--code"), wrapped = try hex(options, "--wrapped")
        return Hex.encode(try crypto { () throws(LinkCodeCrypto.Failure) in try LinkCodeCrypto.unwrap(wrapped, code: code) })
    }

    static let sealBundle = command(
        "key-bundle-seal", "the companion's 156-byte key bundle (whatsmeow pair-code.go handleCodePairNotification)",
        usage: "--shared HEX --companion HEX --primary HEX --adv-random HEX --salt HEX --nonce HEX",
        details: """
        Prints salt(32) ‖ nonce(12) ‖ AES-256-GCM(HKDF-SHA256(shared, salt,
        "link_code_pairing_key_bundle_encryption_key"), nonce)(companion ‖ primary ‖ adv-random).
        """,
        valued: ["--shared", "--companion", "--primary", "--adv-random", "--salt", "--nonce"]
    ) { options throws(CommandFailure) in
        let shared = try hex(options, "--shared"), companion = try hex(options, "--companion", count: 32)
        let primary = try hex(options, "--primary", count: 32), advRandom = try hex(options, "--adv-random", count: 32)
        let salt = try hex(options, "--salt", count: 32), nonce = try hex(options, "--nonce", count: 12)
        return Hex.encode(try crypto { () throws(LinkCodeCrypto.Failure) in
            try LinkCodeCrypto.sealKeyBundle(ephemeralShared: shared, companionIdentity: companion, primaryIdentity: primary,
                                             advSecretRandom: advRandom, salt: salt, nonce: nonce)
        })
    }

    static let openBundle = command(
        "key-bundle-open", "the phone's side: open a 156-byte key bundle",
        usage: "--shared HEX --bundle HEX",
        details: """
        Prints {"companion","primary","adv_random"} (hex). A bundle that does not open with this
        shared secret exits 1.
        """,
        valued: ["--shared", "--bundle"]
    ) { options throws(CommandFailure) in
        let shared = try hex(options, "--shared"), bundle = try hex(options, "--bundle")
        let opened = try crypto { () throws(LinkCodeCrypto.Failure) in try LinkCodeCrypto.openKeyBundle(bundle, ephemeralShared: shared) }
        let json: JSONValue = [
            "companion": .string(Hex.encode(opened.companionIdentity)), "primary": .string(Hex.encode(opened.primaryIdentity)),
            "adv_random": .string(Hex.encode(opened.advSecretRandom)),
        ]
        return json.serialized
    }

    static let advSecret = command(
        "adv-secret", "the ADV secret after a code exchange (whatsmeow pair-code.go handleCodePairNotification)",
        usage: "--eph-shared HEX --id-shared HEX --adv-random HEX",
        details: """
        Prints HKDF-SHA256(eph-shared ‖ id-shared ‖ adv-random, no salt, "adv_secret", 32).
        """,
        valued: ["--eph-shared", "--id-shared", "--adv-random"]
    ) { options throws(CommandFailure) in
        let ephemeral = try hex(options, "--eph-shared"), identity = try hex(options, "--id-shared")
        let advRandom = try hex(options, "--adv-random")
        return Hex.encode(try crypto { () throws(LinkCodeCrypto.Failure) in
            try LinkCodeCrypto.advSecret(ephemeralShared: ephemeral, identityShared: identity, advSecretRandom: advRandom)
        })
    }

    static let advHMAC = command(
        "adv-hmac", "the pair-success HMAC over ADVSignedDeviceIdentity bytes (whatsmeow pair.go handlePair)",
        usage: "--secret HEX --details HEX [--hosted]",
        details: """
        Prints HMAC-SHA256(secret, [06 05 with --hosted] ‖ details).
        """,
        flags: ["--hosted"], valued: ["--secret", "--details"]
    ) { options throws(CommandFailure) in
        Hex.encode(ADVIdentity.hmac(signedIdentity: try hex(options, "--details"), hosted: options.flags.contains("--hosted"),
                                    advSecret: try hex(options, "--secret")))
    }

    static let advMessage = command(
        "adv-message", "the bytes the account key or the companion signs (whatsmeow pair.go handlePair)",
        usage: "--details HEX --companion HEX [--account HEX] [--hosted]",
        details: """
        Without --account: the account signature message, 06 00 (06 05 with --hosted) ‖ details ‖
        companion. With --account: the device signature message, 06 01 ‖ details ‖ companion ‖ account
        (--hosted does not apply to it).
        """,
        flags: ["--hosted"], valued: ["--details", "--companion", "--account"]
    ) { options throws(CommandFailure) in
        let details = try hex(options, "--details"), companion = try hex(options, "--companion", count: 32)
        if options.values["--account"] != nil {
            guard !options.flags.contains("--hosted") else { throw .badInput("--hosted applies to the account message only") }
            return Hex.encode(ADVIdentity.deviceSignatureMessage(deviceIdentity: details, companionIdentityKey: companion,
                                                                 accountSignatureKey: try hex(options, "--account", count: 32)))
        }
        return Hex.encode(ADVIdentity.accountSignatureMessage(deviceIdentity: details, companionIdentityKey: companion,
                                                              hosted: options.flags.contains("--hosted")))
    }

    static let x25519 = command(
        "x25519", "X25519(private, public), the shared secrets of whatsmeow pair-code.go handleCodePairNotification",
        usage: "--private HEX --public HEX",
        details: """
        Prints the 32-byte shared secret. The private key is clamped. A low-order public key (all-zero
        result) exits 1.
        """,
        valued: ["--private", "--public"]
    ) { options throws(CommandFailure) in
        let privateKey = try hex(options, "--private", count: 32), publicKey = try hex(options, "--public", count: 32)
        do {
            return Hex.encode(try Curve25519KeyPair(privateKey: privateKey).sharedSecret(with: publicKey))
        } catch {
            throw CommandFailure(message: "\(error)", exitCode: 1)
        }
    }

    static let primeOrder = command(
        "prime-order-check", "is a public key in Curve25519's prime-order subgroup?",
        usage: "--public HEX",
        details: """
        Prints "prime-order" (exit 0) or "not-prime-order" (exit 1): what a linking phone checks
        after unwrapping the companion's key (Curve25519KeyPair.isPrimeOrderPublicKey).
        """,
        valued: ["--public"]
    ) { options throws(CommandFailure) in
        let key = try hex(options, "--public")
        guard Curve25519KeyPair.isPrimeOrderPublicKey(key) else {
            WireCLI.writeStdout("not-prime-order\n")
            throw CommandFailure(message: "not in the prime-order subgroup", exitCode: 1)
        }
        return "prime-order"
    }

    // MARK: plumbing

    typealias Options = (flags: Set<String>, values: [String: String])

    /// A subcommand whose body turns parsed options into one line of output.
    private static func command(_ name: String, _ summary: String, usage: String, details: String, flags: Set<String> = [],
                                valued: Set<String>, body: @escaping @Sendable (Options) throws(CommandFailure) -> String) -> Subcommand {
        Subcommand(name: name, summary: summary, help: "usage: wause-wire \(name) \(usage)\n\n\(details)\n\n", throwing: { arguments throws(CommandFailure) in
            let options = try WireCLI.parseOptions(arguments, flags: flags, valued: valued)
            WireCLI.writeStdout(try body(options) + "\n")
        })
    }

    private static func text(_ options: Options, _ name: String) throws(CommandFailure) -> String {
        guard let value = options.values[name] else { throw .badInput("\(name) is required") }
        return value
    }

    private static func hex(_ options: Options, _ name: String, count: Int? = nil) throws(CommandFailure) -> [UInt8] {
        let value = try text(options, name)
        guard let bytes = Hex.decode(value) else { throw .badInput("\(name): not hex: \(value)") }
        if let count, bytes.count != count { throw .badInput("\(name) must be \(count) bytes, got \(bytes.count)") }
        return bytes
    }

    /// LinkCodeCrypto's failures: bad input exits 2, a bundle that does not open exits 1.
    private static func crypto<T>(_ body: () throws(LinkCodeCrypto.Failure) -> T) throws(CommandFailure) -> T {
        do {
            return try body()
        } catch {
            switch error {
            case .malformed(let message): throw .badInput(message)
            case .cannotOpen(let message): throw CommandFailure(message: message, exitCode: 1)
            }
        }
    }
}
