import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport
import WauseSupport

/// Where wause-sim must behave as the real server does, as whatsmeow's own code shows: stream
/// errors are not raced by the close, device changes are told to the account and its contacts
/// only, and privacy iqs are answered.
@Suite struct FidelityTests {
    /// The first of two racing outcomes (the loser may never come: it is left suspended).
    final class FirstOf<T: Sendable>: @unchecked Sendable {
        private let lock = ConditionLock()
        private var value: T?
        private var waiter: CheckedContinuation<T, Never>?

        func offer(_ candidate: T) {
            let resume = lock.withLock { () -> CheckedContinuation<T, Never>? in
                guard value == nil else { return nil }
                value = candidate
                defer { waiter = nil }
                return waiter
            }
            resume?.resume(returning: candidate)
        }

        var first: T {
            get async {
                await withCheckedContinuation { continuation in
                    let ready = lock.withLock { () -> T? in
                        if value == nil { waiter = continuation }
                        return value
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
        }
    }

    /// A client whose reader stops at the first close frame reads a stream error only if the
    /// server leaves it time to: after the error, either the server closes (the error raced its
    /// close: `waited` false) or it sets its grace timer and waits for the client (true).
    /// `closed` keeps reading and ends when the connection does (true: nothing else came).
    static func afterStreamError(_ companion: TestCompanion, _ setup: SimSetup) async -> (waited: Bool, closed: Task<Bool, Never>) {
        let socket = companion.socket!, timers = setup.timers
        let race = FirstOf<Bool>()
        let closed = Task { () -> Bool in
            let next = try? await socket.nextNode()
            race.offer(false)
            return next == nil
        }
        Task {
            await timers.waitForSleeper(duration: SimConnections.streamErrorGrace)
            race.offer(true)
        }
        return (await race.first, closed)
    }

    @Test func after515TheServerLeavesTheCloseToTheClient() async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning()
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        try companion.send(try companion.pairDeviceSign(pair))
        #expect(await scan.value.status == 200)
        let restart = try await companion.expectNode()
        #expect(restart.tag == "stream:error" && restart[attribute: "code"] == "515")
        let after = await FidelityTests.afterStreamError(companion, setup)
        #expect(after.waited)
        // The client closes, as whatsmeow does on 515; the server's timer goes with the connection.
        companion.close()
        #expect(await after.closed.value)
        try await poll { setup.simulator.connections.all.isEmpty }
        await setup.close()
    }

    @Test func afterDeviceRemovedTheServerClosesOnlyAfterAGracePeriod() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        #expect(await admin(setup.simulator, "DELETE", "/accounts/15550001111/devices/1").status == 200)
        let error = try await companion.expectNode()
        #expect(error.tag == "stream:error" && error.child("conflict")?[attribute: "type"] == "device_removed")
        let after = await FidelityTests.afterStreamError(companion, setup)
        #expect(after.waited)
        // whatsmeow waits for the server's close after device_removed (expectDisconnect): it comes.
        setup.timers.advance(by: SimConnections.streamErrorGrace)
        #expect(await after.closed.value)
        await setup.close()
    }

    @Test func aSecondLoginReplacesTheFirstConnection() async throws {
        let setup = try await SimSetup()
        let first = try await DeviceRequestsTests.loggedIn(setup)
        let firstSocket = try #require(first.socket)
        // The same device (same Noise key) logs in again on a new connection.
        try await first.login(setup.simulator, phone: "15550001111", device: 1)
        #expect(try await first.expectNode().tag == "success")
        let replacedStream = TestCompanion()
        replacedStream.adopt(firstSocket)
        let error = try await replacedStream.expectNode()
        #expect(error.tag == "stream:error" && error.child("conflict")?[attribute: "type"] == "replaced")
        let after = await FidelityTests.afterStreamError(replacedStream, setup)
        #expect(after.waited)
        setup.timers.advance(by: SimConnections.streamErrorGrace)
        #expect(await after.closed.value)
        first.close()
        await setup.close()
    }
}

extension FidelityTests {
    /// The engine after pair-success, when the close wins the race against the 515 (the error
    /// never read): the link is stored, so it logs in at once — as after a 515, no backoff.
    @Test func theEngineLogsInAtOnceWhenTheCloseRacesThe515() async throws {
        let setup = try await QRLinkingTests.Setup()
        _ = try setup.simulator.state.createAccount(phone: "15550001111", pushName: "Ada")
        setup.simulator.connections.losesStreamErrors = true
        let client = setup.client
        _ = try await client.call("whatsapp_start_auth", .null).get()
        let qr = try #require(await nextEvent(client, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
        #expect(await admin(setup.simulator, "POST", "/accounts/15550001111/scan", ["qr": .string(qr)]).status == 200)
        // Virtual time stands still: a backoff before redialling would never end.
        try await MessagingTests.waitForLogin(client, after: 0)
        await setup.close()
    }
}

extension FidelityTests {
    /// whatsmeow send.go `sendDM`: the phash covers every device of both users, the sending
    /// device included. The engine computes it so, agrees with the server and keeps its lists.
    @Test func theEngineAgreesWithTheServersPhashAndKeepsItsDeviceLists() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")
        _ = try await MessagingTests.send(alice, to: "15550003333", "hello")
        for user in ["15550003333", "15550001111"] {
            let list = try alice.store.cachedDeviceList(user: JID(user: user, server: .whatsApp), newerThan: .epoch)
            #expect(list != nil, "\(user)'s device list was dropped after the ack")
        }
        await setup.close()
    }
}

extension FidelityTests {
    /// whatsmeow notification.go `handleDeviceNotification`: a device change is for those who
    /// cache the user's device list. An account that never exchanged a message with the user
    /// learns nothing; its own other devices and a contact do.
    @Test func deviceChangesReachOwnDevicesAndContactsButNotStrangers() async throws {
        let setup = try await SimSetup()
        let own = try await DeviceRequestsTests.loggedIn(setup)  // device 1 of 15550001111
        let stranger = try await FidelityTests.loggedInDevice(setup, phone: "15550002222")
        let contact = try await FidelityTests.loggedInDevice(setup, phone: "15550003333")
        // The contact once wrote to 15550001111 (so it holds sessions with its devices).
        let contactAccount = try #require(try setup.simulator.state.account(phone: "15550003333"))
        try setup.simulator.state.commit { (c) throws(WauseError) in
            try SimState.logMessage(c, id: "3EB0CONTACT", sender: SimEndpoint(account: contactAccount, device: 1),
                                    chat: JID(user: "15550001111", server: .whatsApp), t: 1)
        }

        _ = try await PhoneLinkingTests.link(setup, TestCompanion(), phone: "15550001111")
        for watcher in [own, contact] {
            let added = try await watcher.expectNode()
            #expect(added.tag == "notification" && added[attribute: "type"] == "devices")
            #expect(added.child("add")?.child("device")?.jid("jid") == JID(user: "15550001111", device: 2, server: .whatsApp))
        }
        // Nothing went to the stranger: the next thing it reads answers its ping.
        try await stranger.expectNothingPending()
        #expect(await admin(setup.simulator, "DELETE", "/accounts/15550001111/devices/2").status == 200)
        #expect(try await contact.expectNode().child("remove") != nil)
        try await stranger.expectNothingPending()
        for companion in [own, stranger, contact] { companion.close() }
        await setup.close()
    }

    /// A new account with one linked companion (device 1), logged in, backlog read.
    static func loggedInDevice(_ setup: SimSetup, phone: String) async throws -> TestCompanion {
        _ = try await setup.account(phone)
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: phone)
        try await companion.login(setup.simulator, phone: phone, device: 1)
        #expect(try await companion.expectNode().tag == "success")
        #expect(try await companion.expectNode().tag == "ib")
        return companion
    }
}

extension FidelityTests {
    /// whatsmeow privacysettings.go `TryFetchPrivacySettings`: `<privacy>` with a `<category
    /// name value/>` per setting, names and values from types/user.go.
    @Test func privacySettingsAreListed() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        let reply = try await companion.query("privacy", "get", [Node(tag: "privacy")])
        #expect(reply[attribute: "type"] == "result")
        let categories = reply.child("privacy")?.children("category") ?? []
        var settings: [String: String] = [:]
        for category in categories { settings[category[attribute: "name"] ?? ""] = category[attribute: "value"] }
        let allowed: [String: Set<String>] = [
            "last": ["all", "contacts", "contact_blacklist", "none"], "online": ["all", "match_last_seen"],
            "profile": ["all", "contacts", "contact_blacklist", "none"], "status": ["all", "contacts", "contact_blacklist", "none"],
            "readreceipts": ["all", "none"], "groupadd": ["all", "contacts", "contact_blacklist", "none"],
            "calladd": ["all", "known"], "messages": ["all", "contacts"],
        ]
        for (name, values) in allowed {
            #expect(settings[name].map(values.contains) == true, "\(name): \(settings[name] ?? "missing")")
        }
        companion.close()
        await setup.close()
    }

    /// whatsmeow tctoken.go `issuePrivacyToken` after a send: the server answers, keeps the token
    /// for the pair of users, and hands it to the other user's devices in a `privacy_token`
    /// notification (notification.go `handlePrivacyTokenNotification`).
    @Test func aPrivacyTokenIsKeptPerPairAndHandedToTheOtherUser() async throws {
        let setup = try await SimSetup()
        let issuer = try await DeviceRequestsTests.loggedIn(setup)  // 15550001111
        let holder = try await FidelityTests.loggedInDevice(setup, phone: "15550003333")
        let issued = try await issuer.query("privacy", "set", [Node(tag: "tokens", children: [
            Node(tag: "token", attributes: ["jid": .jid(JID(user: "15550003333", server: .whatsApp)), "t": "1700000000",
                                            "type": "trusted_contact"]),
        ])])
        #expect(issued[attribute: "type"] == "result")
        let kept = try #require(try setup.simulator.state.privacyToken(issuer: "15550001111", holder: "15550003333"))
        #expect(kept.t == 1_700_000_000 && !kept.token.isEmpty)
        #expect(try setup.simulator.state.privacyToken(issuer: "15550003333", holder: "15550001111") == nil)

        let notification = try await holder.expectNode()
        #expect(notification.tag == "notification" && notification[attribute: "type"] == "privacy_token")
        #expect(notification.jid("from") == JID(user: "15550001111", server: .whatsApp))
        let token = try #require(notification.child("tokens")?.child("token"))
        #expect(token[attribute: "type"] == "trusted_contact" && token[attribute: "t"] == "1700000000")
        #expect(token.bytes == kept.token)
        // The issuer hears nothing more of it.
        try await issuer.expectNothingPending()
        issuer.close()
        holder.close()
        await setup.close()
    }
}
