import Testing
import WauseCrypto
@testable import WauseProtocol

/// The expired-media retry cipher (whatsmeow mediaretry.go). Known answers computed with Python
/// `cryptography` following whatsmeow's formula: HKDF(mediaKey 00…1f, "WhatsApp Media Retry
/// Notification", 32), then AES-256-GCM with IV 02×12 and the message id as associated data over
/// `ServerErrorReceipt{stanzaID = "3EB0C0FFEE0123456789AB"}` (0a 16 ‖ the id).
@Suite struct MediaRetryCryptoTests {
    static let mediaKey = Array(UInt8(0)...UInt8(31))
    static let messageID = "3EB0C0FFEE0123456789AB"
    static let receipt = [0x0A, 0x16] + Array(messageID.utf8)
    static let iv = [UInt8](repeating: 2, count: 12)
    static let sealed = "edccbe9f87826c0d8f27cf85367e4ab020ee85477ae562e5a9553ba1b1fc97e1bab0fd77a24ff70a"

    @Test func derivesTheRetryKey() throws {
        #expect(Hex.encode(try MediaRetryCrypto.key(mediaKey: Self.mediaKey))
            == "c84dfe50a708e0ec382a7ad2ba40135256f41b652cebe2129661d27871111cb2")
    }

    @Test func sealsAndOpensTheKnownAnswer() throws {
        let sealed = try MediaRetryCrypto.seal(Self.receipt, mediaKey: Self.mediaKey, messageID: Self.messageID, iv: Self.iv)
        #expect(Hex.encode(sealed) == Self.sealed)
        #expect(try MediaRetryCrypto.open(sealed, mediaKey: Self.mediaKey, messageID: Self.messageID, iv: Self.iv) == Self.receipt)
    }

    @Test func refusesAnotherMessageKeyOrIVAndBadLengths() throws {
        let sealed = Hex.decode(Self.sealed)!
        #expect(throws: MediaRetryCrypto.Failure.cannotOpen) {
            try MediaRetryCrypto.open(sealed, mediaKey: Self.mediaKey, messageID: "3EB0C0FFEE0123456789AC", iv: Self.iv)
        }
        var otherKey = Self.mediaKey
        otherKey[0] ^= 1
        #expect(throws: MediaRetryCrypto.Failure.cannotOpen) {
            try MediaRetryCrypto.open(sealed, mediaKey: otherKey, messageID: Self.messageID, iv: Self.iv)
        }
        #expect(throws: MediaRetryCrypto.Failure.cannotOpen) {
            try MediaRetryCrypto.open(sealed, mediaKey: Self.mediaKey, messageID: Self.messageID, iv: [UInt8](repeating: 3, count: 12))
        }
        #expect(throws: MediaRetryCrypto.Failure.cannotOpen) {
            try MediaRetryCrypto.open(Array(sealed.prefix(10)), mediaKey: Self.mediaKey, messageID: Self.messageID, iv: Self.iv)
        }
        #expect(throws: MediaRetryCrypto.Failure.invalidIV(length: 16)) {
            try MediaRetryCrypto.seal([], mediaKey: Self.mediaKey, messageID: Self.messageID, iv: [UInt8](repeating: 0, count: 16))
        }
        #expect(throws: MediaRetryCrypto.Failure.invalidMediaKey(length: 31)) {
            try MediaRetryCrypto.key(mediaKey: Array(Self.mediaKey.prefix(31)))
        }
    }
}
