/// An element of GF(p), p = 2^255 − 19, in radix 2^51 (five 64-bit limbs; products via UInt128).
///
/// Only what the Montgomery→Edwards conversion of XEdDSA verification needs (y = (u−1)/(u+1)):
/// libsodium exposes no field arithmetic. Every operation runs the same instruction sequence
/// whatever the values (no data-dependent branches or indices), so it stays constant-time even
/// though the inputs it is used on today are public keys.
struct FieldElement25519: Sendable {
    private static let limbMask: UInt64 = (1 << 51) - 1

    var limbs: (UInt64, UInt64, UInt64, UInt64, UInt64)

    static let zero = FieldElement25519(limbs: (0, 0, 0, 0, 0))
    static let one = FieldElement25519(limbs: (1, 0, 0, 0, 0))

    init(limbs: (UInt64, UInt64, UInt64, UInt64, UInt64)) {
        self.limbs = limbs
    }

    /// Loads 32 little-endian bytes, ignoring bit 255 (as ref10 `fe_frombytes` does). Values in
    /// [p, 2^255) are accepted and behave as their residue mod p.
    init(littleEndianBytes bytes: [UInt8]) {
        precondition(bytes.count == 32, "a field element is encoded in 32 bytes")
        func word(_ index: Int) -> UInt64 {
            var value: UInt64 = 0
            for offset in (0..<8).reversed() { value = (value << 8) | UInt64(bytes[index * 8 + offset]) }
            return value
        }
        let w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3)
        let mask = Self.limbMask
        limbs = (
            w0 & mask,
            ((w0 >> 51) | (w1 << 13)) & mask,
            ((w1 >> 38) | (w2 << 26)) & mask,
            ((w2 >> 25) | (w3 << 39)) & mask,
            (w3 >> 12) & mask
        )
    }

    /// Propagates carries so every limb is below 2^51 (the top carry wraps around times 19 because
    /// 2^255 ≡ 19 mod p). The value stays below 2^255 + a small multiple of 19, not fully reduced.
    private static func carried(_ l: (UInt64, UInt64, UInt64, UInt64, UInt64)) -> FieldElement25519 {
        var (l0, l1, l2, l3, l4) = l
        let mask = limbMask
        l1 &+= l0 >> 51; l0 &= mask
        l2 &+= l1 >> 51; l1 &= mask
        l3 &+= l2 >> 51; l2 &= mask
        l4 &+= l3 >> 51; l3 &= mask
        l0 &+= 19 &* (l4 >> 51); l4 &= mask
        l1 &+= l0 >> 51; l0 &= mask
        return FieldElement25519(limbs: (l0, l1, l2, l3, l4))
    }

    static func + (a: FieldElement25519, b: FieldElement25519) -> FieldElement25519 {
        carried((a.limbs.0 &+ b.limbs.0, a.limbs.1 &+ b.limbs.1, a.limbs.2 &+ b.limbs.2,
                 a.limbs.3 &+ b.limbs.3, a.limbs.4 &+ b.limbs.4))
    }

    /// a − b computed as a + 2p − b so no limb underflows (inputs are carried: limbs < 2^52).
    static func - (a: FieldElement25519, b: FieldElement25519) -> FieldElement25519 {
        let twoP0: UInt64 = 0xF_FFFF_FFFF_FFDA  // 2·(2^51 − 19)
        let twoP: UInt64 = 0xF_FFFF_FFFF_FFFE    // 2·(2^51 − 1)
        return carried((a.limbs.0 &+ twoP0 &- b.limbs.0, a.limbs.1 &+ twoP &- b.limbs.1,
                        a.limbs.2 &+ twoP &- b.limbs.2, a.limbs.3 &+ twoP &- b.limbs.3,
                        a.limbs.4 &+ twoP &- b.limbs.4))
    }

    /// Schoolbook product; terms that reach 2^255 and above are folded back multiplied by 19.
    static func * (a: FieldElement25519, b: FieldElement25519) -> FieldElement25519 {
        let (a0, a1, a2, a3, a4) = (UInt128(a.limbs.0), UInt128(a.limbs.1), UInt128(a.limbs.2),
                                    UInt128(a.limbs.3), UInt128(a.limbs.4))
        let (b0, b1, b2, b3, b4) = (UInt128(b.limbs.0), UInt128(b.limbs.1), UInt128(b.limbs.2),
                                    UInt128(b.limbs.3), UInt128(b.limbs.4))
        let (b1x19, b2x19, b3x19, b4x19) = (b1 * 19, b2 * 19, b3 * 19, b4 * 19)

        let r0 = a0 * b0 + a1 * b4x19 + a2 * b3x19 + a3 * b2x19 + a4 * b1x19
        var r1 = a0 * b1 + a1 * b0 + a2 * b4x19 + a3 * b3x19 + a4 * b2x19
        var r2 = a0 * b2 + a1 * b1 + a2 * b0 + a3 * b4x19 + a4 * b3x19
        var r3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + a4 * b4x19
        var r4 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0

        let mask = UInt128(limbMask)
        r1 += r0 >> 51
        r2 += r1 >> 51
        r3 += r2 >> 51
        r4 += r3 >> 51
        // Fold the part at and above 2^255 back in (times 19), still in 128 bits so it cannot overflow.
        let folded = (r0 & mask) + 19 * (r4 >> 51)
        let l0 = UInt64(truncatingIfNeeded: folded & mask)
        let l1 = UInt64(truncatingIfNeeded: (r1 & mask) + (folded >> 51))
        return carried((l0, l1, UInt64(truncatingIfNeeded: r2 & mask),
                        UInt64(truncatingIfNeeded: r3 & mask), UInt64(truncatingIfNeeded: r4 & mask)))
    }

    /// z^(p−2) = z^−1 by Fermat (and 0 for 0, which libsignal relies on: u = −1 maps to y = 0).
    /// The exponent 2^255 − 21 is public and fixed, so the square-and-multiply sequence is too.
    func inverted() -> FieldElement25519 {
        // Bits of p − 2 from the top: bits 254…5 are all 1, bits 4…0 are 0b01011.
        var result = FieldElement25519.one
        for bit in stride(from: 254, through: 0, by: -1) {
            result = result * result
            let isSet = bit >= 5 || (0b01011 >> bit) & 1 == 1
            if isSet { result = result * self }
        }
        return result
    }

    /// The unique 32-byte little-endian encoding of the value reduced into [0, p); bit 255 is 0.
    /// Follows curve25519-donna's `fcontract`: bring the value into [0, 2^255), add 19 so values
    /// ≥ p wrap past 2^255 (and get 19 added back), then add 2^255 − 19 and drop bit 255.
    var canonicalBytes: [UInt8] {
        let mask = Self.limbMask
        func wrappingCarryPass(_ t: inout (UInt64, UInt64, UInt64, UInt64, UInt64)) {
            t.1 &+= t.0 >> 51; t.0 &= mask
            t.2 &+= t.1 >> 51; t.1 &= mask
            t.3 &+= t.2 >> 51; t.2 &= mask
            t.4 &+= t.3 >> 51; t.3 &= mask
            t.0 &+= 19 &* (t.4 >> 51); t.4 &= mask
        }
        var t = limbs
        wrappingCarryPass(&t)
        wrappingCarryPass(&t)
        // Now 0 ≤ t < 2^255.
        t.0 &+= 19
        wrappingCarryPass(&t)
        // Now t ≡ v + 19, and t = v + 19 if v < p, t = v − p + 19 otherwise (both < 2^255).
        t.0 &+= (1 << 51) &- 19
        t.1 &+= (1 << 51) &- 1
        t.2 &+= (1 << 51) &- 1
        t.3 &+= (1 << 51) &- 1
        t.4 &+= (1 << 51) &- 1
        // Adding 2^255 − 19 and dropping the carry out of bit 255 leaves v mod p.
        t.1 &+= t.0 >> 51; t.0 &= mask
        t.2 &+= t.1 >> 51; t.1 &= mask
        t.3 &+= t.2 >> 51; t.2 &= mask
        t.4 &+= t.3 >> 51; t.3 &= mask
        t.4 &= mask
        let (r0, r1, r2, r3, r4) = t

        let words: [UInt64] = [
            r0 | (r1 << 51),
            (r1 >> 13) | (r2 << 38),
            (r2 >> 26) | (r3 << 25),
            (r3 >> 39) | (r4 << 12),
        ]
        var bytes = [UInt8](repeating: 0, count: 32)
        for (index, word) in words.enumerated() {
            for offset in 0..<8 { bytes[index * 8 + offset] = UInt8(truncatingIfNeeded: word >> (8 * offset)) }
        }
        return bytes
    }
}
