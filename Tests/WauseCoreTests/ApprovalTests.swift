import Testing
import WauseBinary
@testable import WauseCore
import WauseProtocol
import WauseSupport
import WauseTestSupport

/// Approvals without a network (issue 14): what counts as an answer, request ids, and requests
/// that ran out while the engine was closed. The answers over the wire, from the right and the
/// wrong people, are tests/sim/test_approvals_e2e.py.
@Suite struct ApprovalTests {
    @Test func theWholeReplyTrimmedIsOneDecisionOptionallyWithAnID() {
        let approved = ["APPROVE", "approved", " Yes ", "y", "Ok", "✅", "👍", "👍🏽", "✅\u{FE0F}", "yes\n"]
        for text in approved { #expect(ApprovalReply(text: text) == ApprovalReply(decision: .approved, requestID: nil), "\(text)") }
        let denied = ["DENY", "denied", "No", "n", "❌", "👎", "👎🏿"]
        for text in denied { #expect(ApprovalReply(text: text) == ApprovalReply(decision: .denied, requestID: nil), "\(text)") }
        #expect(ApprovalReply(text: "APPROVE ABC123") == ApprovalReply(decision: .approved, requestID: "ABC123"))
        #expect(ApprovalReply(text: "abc123 yes") == ApprovalReply(decision: .approved, requestID: "ABC123"))
        #expect(ApprovalReply(text: "deny  K7QZ2M ") == ApprovalReply(decision: .denied, requestID: "K7QZ2M"))
        // Not answers: more words, other words, an id alone, an id of the wrong length.
        // Any six letters or digits are read as an id ("yes please" names PLEASE): an id that is not
        // pending with that person resolves nothing (Approvals.consider), so the reply is ignored.
        #expect(ApprovalReply(text: "yes please") == ApprovalReply(decision: .approved, requestID: "PLEASE"))
        for text in ["yes please do", "approve this now", "OKAY", "", "   ", "ABC123", "APPROVE ABC12", "yes yes", "👍👍", "maybe"] {
            #expect(ApprovalReply(text: text) == nil, "\(text)")
        }
    }

    @Test func requestIDsAreSixCharactersOfTheUnambiguousAlphabet() {
        var counter: UInt8 = 0
        for _ in 0..<50 {
            let id = ApprovalReply.newID { count in
                (0..<count).map { _ in counter &+= 97; return counter }
            }
            #expect(id.count == 6 && id.allSatisfy { ApprovalReply.idAlphabet.contains($0) }, "\(id)")
            #expect(!id.contains("0") && !id.contains("1"), "\(id)")
        }
    }

    @Test func requestsThatRanOutWhileClosedExpireAtOpenAndTheRestStayPending() async throws {
        let temp = TemporaryDirectory()
        let clock = TestClock()
        let start = clock.now
        do {
            let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment(clock))
            for (id, lifetime) in [("SHORT2", Duration.seconds(10)), ("LONGER", Duration.seconds(3600))] {
                try client.store.insertApproval(ApprovalRecord(
                    id: id, contactID: 1, toPhone: "15550001111", toLID: nil, chatJID: "15550001111@s.whatsapp.net", action: "deploy",
                    details: "", style: "text", status: .pending, createdAt: start, expiresAt: start + lifetime,
                    requestMessageID: "3EB0\(id)"))
            }
            client.close()
        }
        clock.advance(.seconds(11))
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment(clock))
        defer { client.close() }
        let short = try #require(try client.store.approval(id: "SHORT2"))
        #expect(short.status == .expired && short.resolvedAt == clock.now && short.resolvedBy == nil)
        #expect(try client.store.approval(id: "LONGER")?.status == .pending)
        let events = try client.events.events(after: 0, limit: 100).filter { $0.name == EventName.approvalResolved.rawValue }
        #expect(events.count == 1)
        #expect(events.first?.data["request_id"] == "SHORT2" && events.first?.data["status"] == "expired")
        #expect(events.first?.data["by"] == .null && events.first?.data["reply_message_id"] == .null)

        let checked = try #require(try await client.call("whatsapp_check_approvals", .object([:])).get()["approvals"]?.arrayValue)
        #expect(checked.count == 1 && checked.first?["request_id"] == "LONGER" && checked.first?["status"] == "pending")
        let one = try await client.call("whatsapp_check_approvals", ["request_id": "short2"]).get()["approvals"]?.arrayValue
        #expect(one?.first?["status"] == "expired" && one?.first?["resolved_at"] == .string(clock.now.iso8601))
        if case .failure(let error) = await client.call("whatsapp_check_approvals", ["request_id": "NOSUCH"]) {
            #expect(error.code == .notFound)
        } else {
            Issue.record("an unknown request id must be not_found")
        }
    }

    @Test func pollStyleIsAcceptedAndToolsAreInTheApprovalsToolset() async throws {
        let temp = TemporaryDirectory()
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment())
        defer { client.close() }
        // Poll style goes as far as sending: on a device that is not linked, that is the error, and nothing is left behind.
        guard case .failure(let error) = await client.call("whatsapp_request_approval", ["to": "15550001111", "action": "x", "style": "poll"]) else {
            Issue.record("an unlinked device cannot send a request")
            return
        }
        #expect(error.code == .whatsappNotPaired, "\(error.message)")
        #expect(try client.store.pendingApprovals().isEmpty)
        for name in ["whatsapp_request_approval", "whatsapp_check_approvals"] {
            #expect(client.catalogue.method(named: name)?.toolset == "approvals")
        }
    }

    @Test func aPollQuestionNamesTheRequestAndTheActionsFirstLineWithinItsLength() {
        #expect(ApprovalMethods.pollQuestion(id: "ABC234", action: "Deploy v2\nto all regions") == "Approve request ABC234? Deploy v2")
        let long = ApprovalMethods.pollQuestion(id: "ABC234", action: String(repeating: "a", count: 500))
        #expect(long.count == ApprovalMethods.maximumPollQuestionLength && long.hasPrefix("Approve request ABC234? aaa") && long.hasSuffix("…"))
        #expect(Approvals.pollOptions == ["Approve", "Deny"])
    }

    /// A poll-style request decided by votes as `Receive` hands them over (filed by
    /// Polls.receiveVote first, then shown to Approvals): a third person's vote in the poll, a vote
    /// for both options and a withdrawn vote decide nothing; the asked person's single choice
    /// does; a vote changed after that changes nothing. (A third person cannot vote in a 1:1 poll
    /// on the simulator, which only lets a phone vote in polls it holds; this is the place.)
    @Test func aPollRequestIsDecidedOnlyByTheAskedPersonsSingleChoice() throws {
        let temp = TemporaryDirectory()
        let clock = TestClock()
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment(clock))
        defer { client.close() }
        let store = client.store
        let bea = try store.contact(phone: "15550002222", lid: "777000222", now: clock.now)
        let pollID = "3EB0POLLREQ1"
        let rowid = try store.enqueue(MessageRecord(id: pollID, chatJID: bea.chatJID, senderJID: nil, fromMe: true, type: "poll",
                                                    body: "Approve request ABC234? Deploy", timestamp: clock.now, status: .queued),
                                      contactID: bea.id, payload: [], now: clock.now)
        try store.insertApproval(ApprovalRecord(
            id: "ABC234", contactID: bea.id, toPhone: bea.phone, toLID: bea.lid, chatJID: bea.chatJID, action: "Deploy", details: "",
            style: "poll", status: .pending, createdAt: clock.now, expiresAt: clock.now + .seconds(300), requestMessageID: pollID))

        var voteNumber = 0
        func vote(_ options: [String], from: JID, senderPhone: JID? = nil) throws -> String {
            voteNumber += 1
            clock.advance(.seconds(1))
            let id = "3EB0VOTE\(voteNumber)"
            let voter = from.server == .lid ? "\(senderPhone?.user ?? from.user)@s.whatsapp.net" : "\(from.user)@s.whatsapp.net"
            _ = try store.recordVote(pollRowid: rowid, voter: voter, options: options, messageID: id, at: clock.now)
            let message = PollMessage.Vote(poll: MessageChange.Target(id: pollID, chat: bea.chatJID, fromMe: false), payload: [1], iv: [2],
                                           at: clock.now.milliseconds).message
            client.approvals.consider(try MessageFormat.encode(message), envelope: MessageEnvelope(id: id, from: from, senderPhone: senderPhone),
                                      from: from)
            return id
        }
        func status() throws -> ApprovalRecord.Status? { try store.approval(id: "ABC234")?.status }

        _ = try vote(["Approve"], from: JID(user: "15550003333", server: .whatsApp))          // Cid, not asked
        #expect(try status() == .pending)
        _ = try vote(["Approve", "Deny"], from: JID(user: "15550002222", server: .whatsApp))   // not one choice
        _ = try vote([], from: JID(user: "15550002222", server: .whatsApp))                    // withdrawn
        #expect(try status() == .pending)
        // Bea by her LID (her phone beside it), choosing Deny: decided.
        let decisive = try vote(["Deny"], from: JID(user: "777000222", server: .lid), senderPhone: JID(user: "15550002222", server: .whatsApp))
        let record = try #require(try store.approval(id: "ABC234"))
        #expect(record.status == .denied && record.replyMessageID == decisive && record.resolvedBy == "777000222@lid")
        _ = try vote(["Approve"], from: JID(user: "15550002222", server: .whatsApp))           // changed afterwards
        #expect(try store.approval(id: "ABC234") == record)
        let resolved = try client.events.events(after: 0, limit: 100).filter { $0.name == EventName.approvalResolved.rawValue }
        #expect(resolved.count == 1 && resolved.first?.data["reply_message_id"] == .string(decisive))
    }
}
