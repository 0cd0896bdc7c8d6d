#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WauseCrypto
import WauseProtocol
import WauseSupport

/// WhatsApp media encryption (WauseProtocol `MediaEncryptor`, `MediaDecryptor`; whatsmeow
/// upload.go, download.go) from file to file, streamed in 64 KB pieces, so that
/// tests/interop/test_media_crypto.py can check it against Python `cryptography` both ways.
/// Binary values are hex; a malformed argument or an unreadable file exits 2, a body that fails
/// verification exits 1 naming the check (`mac_mismatch: …`) and leaves no output file.
enum MediaCommands {
    static let all: [Subcommand] = [encrypt, decrypt]
    static let pieceLength = 64 << 10
    static let types = MediaType.allCases.map(\.rawValue).joined(separator: "|")

    static let encrypt = Subcommand(
        name: "media-encrypt", summary: "encrypt a media file for upload (ciphertext ‖ 10-byte MAC) and print its hashes",
        help: """
        usage: wause-wire media-encrypt --type TYPE --media-key HEX --in FILE --out FILE

        Writes AES-256-CBC(cipherKey, iv, PKCS#7(plaintext)) ‖ HMAC-SHA256(macKey, iv ‖ ciphertext)[0:10]
        to --out, with iv, cipherKey and macKey from HKDF-SHA256(media key, TYPE's info, 112 bytes).
        Prints {"file_sha256","file_enc_sha256","file_length","mac","upload_token"} (hex; the
        token is base64url with padding).
        TYPE: \(types).

        """,
        throwing: { arguments throws(CommandFailure) in
            let options = try WireCLI.parseOptions(arguments, flags: [], valued: ["--type", "--media-key", "--in", "--out"])
            let keys = try mediaKeys(options)
            let input = try open(input: options), output = try open(output: options, path: try path(options, "--out"))
            defer { close(input) }
            var encryptor = MediaEncryptor(keys: keys)
            var piece = [UInt8](repeating: 0, count: pieceLength), produced: [UInt8] = []
            produced.reserveCapacity(pieceLength + 32)
            while true {
                let count = try readPiece(input, into: &piece)
                if count == 0 { break }
                produced.removeAll(keepingCapacity: true)
                piece.withUnsafeBytes { encryptor.update(UnsafeRawBufferPointer(rebasing: $0[0..<count]), appendingTo: &produced) }
                try writeAll(output, produced)
            }
            produced.removeAll(keepingCapacity: true)
            let result = encryptor.finish(appendingTo: &produced)
            try writeAll(output, produced)
            try closeOutput(output)
            WireCLI.writeStdout(JSONValue.object([
                "file_sha256": .string(Hex.encode(result.fileSha256)),
                "file_enc_sha256": .string(Hex.encode(result.fileEncSha256)),
                "file_length": .int(Int64(result.fileLength)),
                "mac": .string(Hex.encode(result.mac)),
                "upload_token": .string(MediaURLs.uploadToken(fileEncSha256: result.fileEncSha256)),
            ]).serialized + "\n")
        })

    static let decrypt = Subcommand(
        name: "media-decrypt", summary: "verify and decrypt a downloaded media body to a file",
        help: """
        usage: wause-wire media-decrypt --type TYPE --media-key HEX --enc-sha256 HEX [--sha256 HEX] --in FILE --out FILE

        Checks SHA-256(body) against --enc-sha256, the length, the 10-byte MAC, the PKCS#7 padding
        and (with --sha256) SHA-256 of the plaintext, decrypting as it reads. The plaintext goes to
        FILE.part and is renamed to FILE only when every check passed; on a failure it is deleted
        and the command exits 1 with the check's name (enc_sha256_mismatch, invalid_length,
        mac_mismatch, invalid_padding, sha256_mismatch). Prints {"file_sha256","file_length"}.
        TYPE: \(types).

        """,
        throwing: { arguments throws(CommandFailure) in
            let options = try WireCLI.parseOptions(
                arguments, flags: [], valued: ["--type", "--media-key", "--enc-sha256", "--sha256", "--in", "--out"])
            let keys = try mediaKeys(options)
            let encSha256 = try hex(options, "--enc-sha256", count: 32)
            let sha256 = options.values["--sha256"] == nil ? nil : try hex(options, "--sha256", count: 32)
            let finalPath = try path(options, "--out"), partPath = finalPath + ".part"
            let input = try open(input: options), output = try open(output: options, path: partPath)
            defer { close(input) }
            var decryptor = MediaDecryptor(keys: keys)
            var piece = [UInt8](repeating: 0, count: pieceLength), produced: [UInt8] = []
            produced.reserveCapacity(pieceLength + 32)
            do throws(CommandFailure) {
                while true {
                    let count = try readPiece(input, into: &piece)
                    if count == 0 { break }
                    produced.removeAll(keepingCapacity: true)
                    piece.withUnsafeBytes { decryptor.update(UnsafeRawBufferPointer(rebasing: $0[0..<count]), appendingTo: &produced) }
                    try writeAll(output, produced)
                }
                produced.removeAll(keepingCapacity: true)
                let result: MediaDecryptionResult
                do throws(MediaCryptoError) {
                    result = try decryptor.finish(expectedFileEncSha256: encSha256, expectedFileSha256: sha256, appendingTo: &produced)
                } catch {
                    throw CommandFailure(message: "\(error.code): \(error)", exitCode: 1)
                }
                try writeAll(output, produced)
                try closeOutput(output)
                guard rename(partPath, finalPath) == 0 else { throw CommandFailure(message: "cannot rename to \(finalPath) (errno \(errno))", exitCode: 2) }
                WireCLI.writeStdout(JSONValue.object([
                    "file_sha256": .string(Hex.encode(result.fileSha256)),
                    "file_length": .int(Int64(result.fileLength)),
                ]).serialized + "\n")
            } catch {
                close(output)  // a second close after closeOutput fails harmlessly with EBADF
                unlink(partPath)
                throw error
            }
        })

    private typealias Options = (flags: Set<String>, values: [String: String])

    private static func mediaKeys(_ options: Options) throws(CommandFailure) -> MediaKeys {
        let name = try path(options, "--type")
        guard let type = MediaType(rawValue: name) else { throw .badInput("--type must be one of \(types), got \(name)") }
        let mediaKey = try hex(options, "--media-key", count: MediaKeys.mediaKeyLength)
        do {
            return try MediaKeys(mediaKey: mediaKey, type: type)
        } catch {
            throw .badInput(error.description)
        }
    }

    private static func path(_ options: Options, _ name: String) throws(CommandFailure) -> String {
        guard let value = options.values[name], !value.isEmpty else { throw .badInput("\(name) is required") }
        return value
    }

    private static func hex(_ options: Options, _ name: String, count: Int) throws(CommandFailure) -> [UInt8] {
        let value = try path(options, name)
        guard let bytes = Hex.decode(value) else { throw .badInput("\(name): not hex: \(value)") }
        guard bytes.count == count else { throw .badInput("\(name) must be \(count) bytes, got \(bytes.count)") }
        return bytes
    }

    private static func open(input options: Options) throws(CommandFailure) -> Int32 {
        let name = try path(options, "--in")
        let descriptor = Glibc.open(name, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .badInput("cannot open \(name) (errno \(errno))") }
        return descriptor
    }

    private static func open(output options: Options, path: String) throws(CommandFailure) -> Int32 {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .badInput("cannot create \(path) (errno \(errno))") }
        return descriptor
    }

    /// Fills `buffer` as far as the input allows; 0 at the end of the input.
    private static func readPiece(_ descriptor: Int32, into buffer: inout [UInt8]) throws(CommandFailure) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CommandFailure(message: "read failed (errno \(errno))", exitCode: 2)
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws(CommandFailure) {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw CommandFailure(message: "write failed (errno \(errno))", exitCode: 2) }
            written += count
        }
    }

    private static func closeOutput(_ descriptor: Int32) throws(CommandFailure) {
        guard close(descriptor) == 0 else { throw CommandFailure(message: "close failed (errno \(errno))", exitCode: 2) }
    }
}
