import WauseCrypto

/// `keypair`, `sign` and `verify`: Curve25519 keys and libsignal XEdDSA signatures, hex in and out,
/// so other Signal implementations can check ours from a subprocess.
enum KeyCommands {
    static let keypair = Command(
        name: "keypair",
        synopsis: "wause-signal keypair [--private HEX]",
        summary: """
            Print a Curve25519 key pair as JSON {"private","public","public_djb"} (hex). With --private \
            (32 bytes) the key is clamped and its public key derived; otherwise a fresh key is generated.
            """,
        valueOptions: ["private"]
    ) { arguments, output throws(CommandLineError) in
        let pair: Curve25519KeyPair
        if let privateKey = try arguments.hexBytes("private", count: Curve25519KeyPair.keyLength) {
            pair = try cryptoResult { try Curve25519KeyPair(privateKey: privateKey) }
        } else {
            pair = Curve25519KeyPair.generate(random: SystemRandom.bytes)
        }
        output.print(#"{"private":"\#(Hex.encode(pair.privateKey))","public":"\#(Hex.encode(pair.publicKey))","public_djb":"\#(Hex.encode(pair.serializedPublicKey))"}"#)
        return 0
    }

    static let sign = Command(
        name: "sign",
        synopsis: "wause-signal sign --private HEX --message HEX [--random HEX]",
        summary: """
            Print the 64-byte libsignal curve25519 (XEdDSA) signature of the message, in hex. The private \
            key (32 bytes) is clamped first. --random gives the 64 nonce bytes (for reproducible output); \
            by default they come from the system CSPRNG.
            """,
        valueOptions: ["private", "message", "random"]
    ) { arguments, output throws(CommandLineError) in
        let privateKey = try arguments.requiredHexBytes("private", count: Curve25519KeyPair.keyLength)
        let message = try arguments.requiredHexBytes("message")
        let random = try arguments.hexBytes("random", count: XEdDSA.randomLength) ?? SystemRandom.bytes(XEdDSA.randomLength)
        let signature = try cryptoResult {
            try XEdDSA.sign(message: message, privateKey: privateKey, random: random)
        }
        output.print(Hex.encode(signature))
        return 0
    }

    static let verify = Command(
        name: "verify",
        synopsis: "wause-signal verify --public HEX --message HEX --signature HEX",
        summary: """
            Check a libsignal curve25519 signature. --public is the 32-byte key or the 33-byte 05-prefixed \
            form. Prints "valid" (exit 0) or "invalid" (exit 1).
            """,
        valueOptions: ["public", "message", "signature"]
    ) { arguments, output throws(CommandLineError) in
        let publicKey = try cryptoResult { try DjbPublicKey.parseRawOrSerialized(try arguments.requiredHexBytes("public")) }
        let message = try arguments.requiredHexBytes("message")
        let signature = try arguments.requiredHexBytes("signature", count: XEdDSA.signatureLength)
        let valid = XEdDSA.verify(signature: signature, message: message, publicKey: publicKey)
        output.print(valid ? "valid" : "invalid")
        return valid ? 0 : 1
    }

    /// Runs a throwing crypto call, turning the module's errors into input errors for the user.
    private static func cryptoResult<T>(_ body: () throws -> T) throws(CommandLineError) -> T {
        do {
            return try body()
        } catch let error as CommandLineError {
            throw error
        } catch let error as WauseCryptoError {
            throw .invalidInput(error.description)
        } catch {
            throw .invalidInput("\(error)")
        }
    }
}
