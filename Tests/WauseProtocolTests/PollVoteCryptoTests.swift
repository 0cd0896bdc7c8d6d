import Testing
import WauseCrypto
import WauseProto
import WauseSupport
@testable import WauseProtocol

/// Poll votes (whatsmeow msgsecret.go). The known answer is tests/interop/fixtures/poll_vote_vector.json,
/// computed with Python `cryptography` following whatsmeow's formula (tests/interop/test_poll_vote_crypto.py):
/// secret 00…1f, poll 3EB0A1B2C3D4E5F60718293A by 15550001111@s.whatsapp.net, a vote for "Deny" by
/// 15550003333@s.whatsapp.net with IV a0…ab.
@Suite struct PollVoteCryptoTests {
    static let secret = Array(UInt8(0)...UInt8(31))
    static let pollID = "3EB0A1B2C3D4E5F60718293A"
    static let creator = "15550001111@s.whatsapp.net"
    static let voter = "15550003333@s.whatsapp.net"
    static let iv = Array(UInt8(0xA0)...UInt8(0xAB))
    static let plaintext = "0a2005a2d7332eb9d8bf164487c743a2e93c21b16bb2061a93e3ee2ceb508eadb753"
    static let key = "52297c0c13a277cdee3499f8fd298cd034daa6dbf1abeee318cb0dbe03156d55"
    static let payload = "634e9c4850497023f582d2d9e447dd9ca2dc1b70b1aa216f21fdfdf06bc782dfd45260d22cf8cdb61939031ffd7247bb75bc"

    @Test func derivesTheKeyAndSealsTheKnownAnswer() throws {
        let (key, additionalData) = try PollVoteCrypto.key(secret: Self.secret, pollID: Self.pollID, pollCreator: Self.creator, voter: Self.voter)
        #expect(Hex.encode(key) == Self.key)
        #expect(additionalData == Array((Self.pollID + "\u{0}" + Self.voter).utf8))
        let poll = MessageChange.Target(id: Self.pollID, chat: "120363000000000001@g.us", fromMe: false, participant: Self.creator)
        let vote = try PollMessage.Vote.sealing(["Deny"], poll: poll, secret: Self.secret, pollCreator: Self.creator, voter: Self.voter,
                                                iv: Self.iv, at: 1_700_000_000_000)
        #expect(Hex.encode(vote.payload) == Self.payload)
        // Through the wire form and back.
        let parsed = try #require(PollMessage.Vote(try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.encode(vote.message))))
        #expect(parsed == vote)
    }

    @Test func opensWithTheRightNamesAmongSeveral() throws {
        let payload = try #require(Hex.decode(Self.payload))
        // The receiver knows the voter by LID first, then by phone number: the second pair opens it.
        let opened = PollVoteCrypto.open(payload, iv: Self.iv, secret: Self.secret, pollID: Self.pollID,
                                         creators: ["777@lid", Self.creator], voters: ["888@lid", Self.voter])
        #expect(opened.map(Hex.encode) == Self.plaintext)
        let plaintext = try #require(opened)
        let hashes = try #require(PollMessage.Vote.selectedHashes(plaintext))
        #expect(hashes == [PollVoteCrypto.optionHash("Deny")])
        // Another poll id, voter or secret does not open it.
        #expect(PollVoteCrypto.open(payload, iv: Self.iv, secret: Self.secret, pollID: "3EB0A1B2C3D4E5F60718293B",
                                    creators: [Self.creator], voters: [Self.voter]) == nil)
        #expect(PollVoteCrypto.open(payload, iv: Self.iv, secret: Self.secret, pollID: Self.pollID,
                                    creators: [Self.creator], voters: ["888@lid"]) == nil)
        #expect(PollVoteCrypto.open(payload, iv: Self.iv, secret: Array(Self.secret.reversed()), pollID: Self.pollID,
                                    creators: [Self.creator], voters: [Self.voter]) == nil)
    }

    @Test func pollCreationRoundTripsAsV1OrV3() throws {
        let single = PollMessage.Creation(question: "Lunch?", options: ["Pizza", "Soup"], selectableCount: 1, secret: Self.secret)
        let multiple = PollMessage.Creation(question: "Lunch?", options: ["Pizza", "Soup"], selectableCount: 0, secret: Self.secret)
        #expect(single.message.hasPollCreationMessageV3 && !single.message.hasPollCreationMessage)
        #expect(multiple.message.hasPollCreationMessage && !multiple.message.hasPollCreationMessageV3)
        for poll in [single, multiple] {
            let wire = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.encode(poll.message))
            #expect(PollMessage.Creation(wire) == poll)
            #expect(MessageFormat.text(of: wire)?.type == "poll" && MessageFormat.text(of: wire)?.body == "Lunch?")
            #expect(PollMessage.pollType(of: wire) == "creation")
        }
    }
}
