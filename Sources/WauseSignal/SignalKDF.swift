import Crypto

/// HMAC-SHA256 and HKDF for the ratchet's hot path, built on swift-crypto's SHA-256 (BoringSSL,
/// hardware-accelerated) fed through raw buffers: swift-crypto's generic `HMAC`/`HKDF` spent
/// most of a `msg`'s time in generic dispatch and key wrapping, and libsodium's portable SHA-256
/// is about four times slower per block (`make bench` profiles). A key's padded inner and outer
/// hash states are computed once and copied for each use, which is what HKDF-Expand (three
/// blocks under one key) and the chain key (two HMACs under one key) need. Same functions as
/// WauseCrypto's `HMAC`/`HKDF`; a test checks they agree, and RFC 5869's vector.
struct SignalHMAC {
    private var inner = SHA256()
    private var outer = SHA256()

    init(key: [UInt8]) {
        // RFC 2104: keys longer than the block are hashed first; shorter ones are zero-padded.
        let blockKey = key.count > 64 ? Array(SHA256.hash(data: key)) : key
        var innerPad = [UInt8](repeating: 0x36, count: 64), outerPad = [UInt8](repeating: 0x5C, count: 64)
        for index in blockKey.indices {
            innerPad[index] ^= blockKey[index]
            outerPad[index] ^= blockKey[index]
        }
        innerPad.withUnsafeBytes { inner.update(bufferPointer: $0) }
        outerPad.withUnsafeBytes { outer.update(bufferPointer: $0) }
    }

    /// HMAC(key, part₁ ‖ part₂ ‖ …) without concatenating the parts.
    func authenticate(_ parts: [UInt8]...) -> [UInt8] {
        var inner = self.inner
        for part in parts { part.withUnsafeBytes { inner.update(bufferPointer: $0) } }
        var outer = self.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes { Array($0) }
    }
}

enum SignalKDF {
    /// HMAC-SHA256 under an all-zero 32-byte key: HKDF-Extract without a salt (RFC 5869 §2.2), as
    /// libsignal derives X3DH secrets and message keys.
    private static let zeroSaltHMAC = SignalHMAC(key: [UInt8](repeating: 0, count: 32))

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        SignalHMAC(key: key).authenticate(message)
    }

    /// RFC 5869 HKDF-SHA256; an empty salt means 32 zero bytes.
    static func hkdf(inputKeyMaterial: [UInt8], salt: [UInt8] = [], info: [UInt8], outputByteCount: Int) -> [UInt8] {
        precondition(outputByteCount > 0 && outputByteCount <= 255 * 32, "HKDF output length out of range")
        let extract = salt.isEmpty ? zeroSaltHMAC : SignalHMAC(key: salt)
        let expand = SignalHMAC(key: extract.authenticate(inputKeyMaterial))
        var output: [UInt8] = []
        output.reserveCapacity(outputByteCount + 32)
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < outputByteCount {
            block = expand.authenticate(block, info, [counter])
            output += block
            counter &+= 1
        }
        output.removeLast(output.count - outputByteCount)
        return output
    }
}
