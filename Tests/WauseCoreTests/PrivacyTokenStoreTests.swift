import Testing
import WauseBinary
@testable import WauseCore
import WauseProtocol
import WauseSupport
import WauseTestSupport

/// The store side of privacy tokens (whatsmeow tctoken.go, store PrivacyTokens): a token kept under
/// the issuer's LID and found by its phone number too, the newest kept, expiry, our issue time,
/// and the cstoken fallback only with an NCT salt and a known LID (cstoken.go).
@Suite struct PrivacyTokenStoreTests {
    let bob = JID(user: "15550002222", server: .whatsApp)
    let bobLID = JID(user: "2022222", server: .lid)
    let now = UnixTime(seconds: 2900 * PrivacyTokens.bucketSeconds)

    @Test func aTokenKeptUnderTheLIDIsFoundByPhoneAndTheNewestWins() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        // Before the LID is known, a token (from a phone-addressed notification) is kept under the phone JID.
        try store.savePrivacyToken([1], from: bob, t: now - .seconds(60), now: now)
        #expect(try store.privacyTokenKey(for: bob) == "15550002222@s.whatsapp.net")
        _ = try store.contact(phone: bob.user, lid: bobLID.user, now: now)
        #expect(try store.privacyTokenKey(for: bob) == "2022222@lid")
        // Still found once the LID is known, whichever way the person is named.
        #expect(try PrivacyTokenExchange.heldToken(for: bob, store: store, now: now) == [1])
        #expect(try PrivacyTokenExchange.heldToken(for: bobLID, store: store, now: now) == [1])
        // A newer token under the LID wins; an older one does not replace it.
        try store.savePrivacyToken([2], from: bobLID, t: now, now: now)
        try store.savePrivacyToken([3], from: bobLID, t: now - .seconds(3600), now: now)
        #expect(try PrivacyTokenExchange.heldToken(for: bob, store: store, now: now) == [2])
        // Past four buckets it is no longer attached.
        let later = now + .seconds(4 * PrivacyTokens.bucketSeconds)
        #expect(try PrivacyTokenExchange.heldToken(for: bob, store: store, now: later) == nil)
    }

    @Test func ourIssueTimeIsKeptApartFromTheirToken() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.contact(phone: bob.user, lid: bobLID.user, now: now)
        #expect(try store.privacyToken(for: bob) == nil)
        try store.notePrivacyTokenIssued(to: bob, at: now)
        let record = try #require(try store.privacyToken(for: bobLID))
        #expect(record.issuedAt == now && record.token == nil && record.jid == "2022222@lid")
        #expect(try PrivacyTokenExchange.heldToken(for: bob, store: store, now: now) == nil)
        try store.savePrivacyToken([7], from: bobLID, t: now, now: now)
        #expect(try store.privacyToken(for: bob)?.issuedAt == now)
    }

    @Test func withoutATokenACsTokenGoesOnlyWithTheSaltAndTheLID() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        _ = try store.deviceIdentity(creatingWith: SeededRandom(seed: 0x71).bytes, now: now)
        // No salt (no history sync yet): neither token, as whatsmeow.
        var attached = try PrivacyTokenExchange.attachment(for: bob, store: store, now: now)
        #expect(attached.tcToken == nil && attached.csToken == nil)
        try store.saveNCTSalt([5, 5, 5])
        // A salt but no LID for the number: still nothing (the cstoken is over the LID).
        attached = try PrivacyTokenExchange.attachment(for: bob, store: store, now: now)
        #expect(attached.csToken == nil)
        _ = try store.contact(phone: bob.user, lid: bobLID.user, now: now)
        attached = try PrivacyTokenExchange.attachment(for: bob, store: store, now: now)
        #expect(attached.tcToken == nil && attached.csToken == PrivacyTokens.csToken(salt: [5, 5, 5], recipientLID: bobLID))
        // A held token takes precedence.
        try store.savePrivacyToken([8], from: bobLID, t: now, now: now)
        attached = try PrivacyTokenExchange.attachment(for: bob, store: store, now: now)
        #expect(attached.tcToken == [8] && attached.csToken == nil)
    }
}
