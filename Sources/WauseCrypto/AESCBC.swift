import Crypto
import _CryptoExtras
#if canImport(FoundationEssentials)
import FoundationEssentials  // Data, the type of swift-crypto's AES-CBC input and output
#else
import Foundation
#endif

/// AES-CBC with PKCS#7 padding: the Signal payload cipher (libsignal `cipher/Cbc.go`, AES-256) and
/// WhatsApp media encryption.
public enum AESCBC {
    public static let blockLength = 16

    /// Pads with PKCS#7 (always at least one byte, so a block-aligned plaintext gains a full block)
    /// and encrypts.
    public static func encrypt(plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-CBC key")
        try WauseCryptoError.requireLength(iv, blockLength, "AES-CBC IV")
        do {
            return Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw WauseCryptoError.primitiveFailure("AES-CBC encrypt: \(error)")
        }
    }

    /// Decrypts and strips PKCS#7 padding. CBC has no authenticator: callers check a MAC first
    /// (Signal and media both do), and a wrong key usually surfaces here as `.invalidPadding`.
    public static func decrypt(ciphertext: [UInt8], key: [UInt8], iv: [UInt8]) throws -> [UInt8] {
        try AESKeyLength.validate(key, "AES-CBC key")
        try WauseCryptoError.requireLength(iv, blockLength, "AES-CBC IV")
        guard !ciphertext.isEmpty, ciphertext.count % blockLength == 0 else {
            throw WauseCryptoError.invalidLength(
                what: "AES-CBC ciphertext", expected: "a non-zero multiple of \(blockLength)", actual: ciphertext.count)
        }
        do {
            return Array(try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: key), iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw WauseCryptoError.invalidPadding
        }
    }
}

extension AESCBC {
    public enum Direction: Sendable {
        case encrypt
        case decrypt
    }

    /// Raw AES-CBC over a stream of whole blocks, without padding: each call continues the chain
    /// where the last one stopped (the IV of the next call is the last ciphertext block), so a file
    /// is enciphered in pieces to the same bytes as in one call. Media files are streamed this way
    /// (whatsmeow util/cbcutil EncryptStream, DecryptFile); the caller pads the final block.
    ///
    /// Each call hands its input to BoringSSL's `AES_cbc_encrypt` (swift-crypto `AES._CBC` with
    /// `noPadding`) without copying it, so large pieces (64 KB) run at the speed of the C primitive.
    public struct BlockStream: Sendable {
        public let direction: Direction
        private let key: SymmetricKey
        private var chainBlock: AES._CBC.IV

        public init(_ direction: Direction, key: [UInt8], iv: [UInt8]) throws {
            try AESKeyLength.validate(key, "AES-CBC key")
            try WauseCryptoError.requireLength(iv, blockLength, "AES-CBC IV")
            self.direction = direction
            self.key = SymmetricKey(data: key)
            do {
                chainBlock = try AES._CBC.IV(ivBytes: iv)
            } catch {
                throw WauseCryptoError.primitiveFailure("AES-CBC IV: \(error)")
            }
        }

        /// Enciphers or deciphers `input` (a multiple of 16 bytes; empty is allowed) and appends
        /// the result, as long as the input, to `output`.
        public mutating func process(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
            precondition(input.count % blockLength == 0, "AES-CBC block stream input must be whole 16-byte blocks")
            guard let base = input.baseAddress, input.count > 0 else { return }
            // A Data over the caller's bytes: swift-crypto keeps a Data argument as it is, so the
            // input is not copied (the buffer outlives the call and is not written to).
            let view = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: input.count, deallocator: .none)
            let result: Data
            do {
                switch direction {
                case .encrypt: result = try AES._CBC.encrypt(view, using: key, iv: chainBlock, noPadding: true)
                case .decrypt: result = try AES._CBC.decrypt(view, using: key, iv: chainBlock, noPadding: true)
                }
            } catch {
                // Key length and block alignment were checked; the primitive has no other failure.
                preconditionFailure("AES-CBC failed on checked input: \(error)")
            }
            result.withUnsafeBytes { produced in
                let lastCiphertext = direction == .encrypt
                    ? UnsafeRawBufferPointer(rebasing: produced[(produced.count - blockLength)...])
                    : UnsafeRawBufferPointer(rebasing: input[(input.count - blockLength)...])
                chainBlock = try! AES._CBC.IV(ivBytes: lastCiphertext)
                output.append(contentsOf: produced)
            }
        }

        public mutating func process(_ input: [UInt8], appendingTo output: inout [UInt8]) {
            input.withUnsafeBytes { process($0, appendingTo: &output) }
        }
    }
}
