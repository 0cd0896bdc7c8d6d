import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
import WauseHTTP
import WauseProto
import WauseSignal
@testable import WauseSim
import WauseTestSupport
import WauseSupport
import WauseProtocol

/// End-to-end messaging through a real wause-sim over real sockets: real `WauseClient`s linked by
/// the sim's phones (QR scan), chatting with each other and with virtual phones, offline
/// queueing, and the server side of sessions (usync, prekey bundles handed out once).
@Suite struct MessagingTests {
    /// A simulator in real time (the engine's acks and receipts are awaited through its events).
    final class Setup: @unchecked Sendable {
        let simulatorDirectory = TemporaryDirectory(prefix: "wause-sim-msg")
        let simulator: Simulator
        private var clients: [WauseClient] = []
        private var directories: [TemporaryDirectory] = []

        /// `simulatorLog` collects the simulator's log lines at debug level (else only its errors, on stderr).
        init(simulatorLog: LogSink? = nil) async throws {
            var settings = SimSettings(dataDirectory: simulatorDirectory.path)
            settings.port = 0
            settings.adminPort = 0
            let logger = Logger(label: "sim", level: simulatorLog == nil ? .error : .debug, sink: simulatorLog)
            simulator = try await Simulator.start(settings: settings, environment: .live, logger: logger)
        }

        func account(_ phone: String, _ name: String) throws -> SimAccount {
            try simulator.state.createAccount(phone: phone, pushName: name)
        }

        func config(_ directory: String) -> ClientConfig {
            var config = ClientConfig(dataDirectory: directory)
            config.serverURL = "ws://127.0.0.1:\(simulator.chatPort)/ws/chat"
            config.serverRootKey = simulator.rootKey.publicKey
            config.logLevel = .error
            // The sim's media host, for the media tools (issue 13).
            config.mediaCAFile = simulatorDirectory.path + "/media-ca.pem"
            return config
        }

        /// A new client in a fresh data directory, linked to `phone` by a QR scan, once ready.
        func linkedClient(_ phone: String, pushName: String? = nil) async throws -> WauseClient {
            let directory = TemporaryDirectory(prefix: "wause-sim-msg-client")
            directories.append(directory)
            var config = config(directory.path)
            config.pushName = pushName
            let client = try WauseClient(config: config, environment: .live)
            clients.append(client)
            let started = try await client.call("whatsapp_start_auth", .null).get()
            #expect(started["state"] == "qr")
            let qr = try #require(await nextEvent(client, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
            let scan = await admin(simulator, "POST", "/accounts/\(phone)/scan", ["qr": .string(qr)])
            #expect(scan.status == 200, "\(scan.json)")
            try await MessagingTests.waitForLogin(client, after: 0)
            return client
        }

        /// `account` then `linkedClient`: a sim account for `phone` named `name`, and a new client linked to it.
        func linkedAccount(_ phone: String, _ name: String) async throws -> (account: SimAccount, client: WauseClient) {
            let account = try account(phone, name)
            return (account, try await linkedClient(phone))
        }

        func close() async {
            for client in clients { client.close() }
            await simulator.stop()
        }
    }

    static func waitForLogin(_ client: WauseClient, after cursor: Int64) async throws {
        var position = cursor
        while true {
            let event = try #require(await nextEvent(client, named: "account.connected", after: position), "no login")
            if event.data["phase"] == "login" { return }
            position = event.cursor
        }
    }

    /// The next event named `name` whose data passes `test`.
    static func event(_ client: WauseClient, _ name: String, after cursor: Int64 = 0,
                      where test: (JSONObject) -> Bool) async throws -> Event {
        var position = cursor
        while true {
            let event = try #require(await nextEvent(client, named: name, after: position), "no \(name) event")
            if test(event.data) { return event }
            position = event.cursor
        }
    }

    static func received(_ client: WauseClient, text: String, after cursor: Int64 = 0) async throws -> Event {
        try await event(client, "message.received", after: cursor) { $0["message"]?["body"] == .string(text) }
    }

    static func send(_ client: WauseClient, to phone: String, _ text: String) async throws -> JSONObject {
        let result = try await client.call("whatsapp_send_message", ["phone_number": .string(phone), "message": .string(text)]).get()
        #expect(result["ok"] == .bool(true))
        // The sim acks once the message is queued for every device; the receipt may be in already.
        #expect(result["status"] == "sent" || result["status"] == "delivered", "\(result)")
        return result
    }

    static func inbox(_ simulator: Simulator, _ phone: String, after: Int64 = 0) async -> [JSONValue] {
        await admin(simulator, "GET", "/accounts/\(phone)/inbox?after=\(after)").json["messages"]?.arrayValue ?? []
    }

    @Test func twoClientsChatBothWaysAndThePhonesSeeIt() async throws {
        let setup = try await Setup()
        let ada = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550002222", "Bob")
        let alice = try await setup.linkedClient("15550001111")
        let bob = try await setup.linkedClient("15550002222")

        let sent = try await MessagingTests.send(alice, to: "15550002222", "hello bob")
        let id = try #require(sent["message_id"]?.stringValue)
        let got = try await MessagingTests.received(bob, text: "hello bob")
        #expect(got.data["message"]?["id"] == .string(id))
        #expect(got.data["sender_phone"] == "15550001111")
        // whatsmeow message.go parseMessageSource: sender_pn with the LID-addressed message, so the contact knows both.
        #expect(got.data["sender_lid"] == .string(ada.lid))
        #expect(got.data["message"]?["author"] == "Ada")
        // Bob's device answered with a delivery receipt, forwarded to Alice's device.
        _ = try await MessagingTests.event(alice, "message.status") { $0["message_id"] == .string(id) && $0["status"] == "delivered" }

        // whatsmeow receipt.go MarkRead: Bob reads it; the read receipt reaches Alice's device.
        let read = try await bob.call("whatsapp_mark_read", ["chat": "15550001111"]).get()
        #expect(read["message_ids"] == .array([.string(id)]))
        _ = try await MessagingTests.event(alice, "message.status") { $0["message_id"] == .string(id) && $0["status"] == "read" }

        let reply = try await MessagingTests.send(bob, to: "15550001111", "hi alice")
        let back = try await MessagingTests.received(alice, text: "hi alice")
        #expect(back.data["message"]?["id"] == reply["message_id"])

        // Both phones are Signal participants: Bob's phone got Alice's message; Alice's phone got
        // the deviceSentMessage copy of what her companion sent (whatsmeow send.go marshalMessage).
        try await poll { await MessagingTests.inbox(setup.simulator, "15550002222").contains { $0["id"] == .string(id) } }
        let bobPhone = await MessagingTests.inbox(setup.simulator, "15550002222")
        #expect(bobPhone.contains { $0["id"] == .string(id) && $0["text"] == "hello bob" && $0["from_me"] == .bool(false)
            && $0["from_phone"] == "15550001111" })
        try await poll { await MessagingTests.inbox(setup.simulator, "15550001111").contains { $0["id"] == .string(id) } }
        let adaPhone = await MessagingTests.inbox(setup.simulator, "15550001111")
        #expect(adaPhone.contains { $0["id"] == .string(id) && $0["text"] == "hello bob" && $0["from_me"] == .bool(true)
            && $0["chat"] == "15550002222@s.whatsapp.net" && $0["from"] == .string("\(ada.lid):1@lid") })
        await setup.close()
    }

    @Test func aClientAndAVirtualPhone() async throws {
        let setup = try await Setup()
        let ada = try setup.account("15550001111", "Ada")
        let carol = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")

        // Client → phone: the phone decrypts, files it, and its delivery receipt comes back. LID-first (whatsmeow send.go
        // SendMessage): to Carol's LID, from Ada's companion's LID, with the phone number beside it.
        let sent = try await MessagingTests.send(alice, to: "15550003333", "hello carol")
        let id = try #require(sent["message_id"]?.stringValue)
        _ = try await MessagingTests.event(alice, "message.status") { $0["message_id"] == .string(id) && $0["status"] == "delivered" }
        let inbox = await MessagingTests.inbox(setup.simulator, "15550003333")
        let entry = try #require(inbox.first { $0["id"] == .string(id) })
        #expect(entry["text"] == "hello carol")
        #expect(entry["from"] == .string("\(ada.lid):1@lid"))
        #expect(entry["from_phone"] == "15550001111")
        #expect(entry["to"] == .string("\(carol.lid)@lid"))
        #expect(entry["push_name"] == "Ada")
        let cursor = try #require(entry["cursor"]?.intValue)
        let later = await admin(setup.simulator, "GET", "/accounts/15550003333/inbox?after=\(cursor)")
        #expect(later.json["messages"]?.arrayValue?.isEmpty == true)
        #expect(later.json["next_cursor"] == .int(cursor))

        // Phone → client: a session from the client's bundle, a pkmsg, stored by the client.
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "hi from carol"])
        #expect(posted.status == 200, "\(posted.json)")
        let got = try await MessagingTests.received(alice, text: "hi from carol")
        #expect(got.data["message"]?["id"] == posted.json["message_id"])
        #expect(got.data["sender_lid"] == .string(carol.lid))

        // What Alice's own phone sends reaches her companion as a deviceSentMessage copy, filed as hers (whatsmeow send.go marshalMessage).
        let own = await admin(setup.simulator, "POST", "/accounts/15550001111/send", ["to": "15550003333", "text": "from my phone"])
        #expect(own.status == 200, "\(own.json)")
        let copy = try await MessagingTests.event(alice, "message.sent") { $0["message"]?["body"] == "from my phone" }
        #expect(copy.data["message"]?["id"] == own.json["message_id"])
        #expect(copy.data["message"]?["chat_id"] == "15550003333@s.whatsapp.net")
        #expect(copy.data["from_other_device"] == .bool(true))

        // Auto-reply: every message from someone else is answered with the text.
        #expect(await admin(setup.simulator, "PUT", "/accounts/15550003333/auto-reply", ["text": "auto: busy"]).status == 200)
        _ = try await MessagingTests.send(alice, to: "15550003333", "ping")
        _ = try await MessagingTests.received(alice, text: "auto: busy")
        let off = await admin(setup.simulator, "PUT", "/accounts/15550003333/auto-reply", ["text": .null])
        #expect(off.json["auto_reply"] == .null)
        await setup.close()
    }

    @Test func twoVirtualPhonesAndAutoRepliesDoNotLoop() async throws {
        let setup = try await Setup()
        _ = try setup.account("15550003333", "Carol")
        _ = try setup.account("15550004444", "Dave")
        #expect(await admin(setup.simulator, "PUT", "/accounts/15550003333/auto-reply", ["text": "carol is away"]).status == 200)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15550004444/auto-reply", ["text": "dave is away"]).status == 200)
        let posted = await admin(setup.simulator, "POST", "/accounts/15550004444/send", ["to": "15550003333@s.whatsapp.net", "text": "hey"])
        #expect(posted.status == 200, "\(posted.json)")
        // Dave's message reaches Carol, Carol's auto-reply reaches Dave, and Dave does not answer it.
        var daveInbox: [JSONValue] = []
        try await poll { daveInbox = await MessagingTests.inbox(setup.simulator, "15550004444"); return !daveInbox.isEmpty }
        #expect(daveInbox.map { $0["text"] } == ["carol is away"])
        let carolInbox = await MessagingTests.inbox(setup.simulator, "15550003333")
        #expect(carolInbox.map { $0["text"] } == ["hey"])
        // Nothing else is queued for either phone.
        try await poll { try setup.simulator.state.queueCount(phone: "15550003333", device: 0) == 0
            && setup.simulator.state.queueCount(phone: "15550004444", device: 0) == 0 }
        #expect(await MessagingTests.inbox(setup.simulator, "15550003333").count == 1)
        await setup.close()
    }

    @Test func anOfflineDeviceGetsItsMessagesWhenItReturns() async throws {
        let setup = try await Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550002222", "Bob")
        let alice = try await setup.linkedClient("15550001111")
        var bob = try await setup.linkedClient("15550002222")
        let bobConfig = bob.config
        bob.close()
        // The sim acks (persisted in Bob's queue) although Bob is away.
        let first = try await MessagingTests.send(alice, to: "15550002222", "while you were out 1")
        _ = try await MessagingTests.send(alice, to: "15550002222", "while you were out 2")
        #expect(try setup.simulator.state.queueCount(phone: "15550002222", device: 1) == 2)
        bob = try WauseClient(config: bobConfig, environment: .live)
        let one = try await MessagingTests.received(bob, text: "while you were out 1")
        let two = try await MessagingTests.received(bob, text: "while you were out 2", after: one.cursor)
        #expect(one.data["message"]?["id"] == first["message_id"])
        #expect(two.cursor > one.cursor)
        // Answered with receipts: nothing stays queued for Bob's device.
        try await poll { try setup.simulator.state.queueCount(phone: "15550002222", device: 1) == 0 }
        bob.close()
        await setup.close()
    }

    @Test func prekeyBundlesHandOutOneTimeKeysOnce() async throws {
        let setup = try await SimSetup()
        let account = try await setup.account()
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: account.phone)
        try await companion.login(setup.simulator, phone: account.phone, device: 1)
        #expect(try await companion.expectNode().tag == "success")
        #expect(try await companion.expectNode().tag == "ib")
        let keys = (1...2).map { _ in Curve25519KeyPair.generate(random: SystemRandom.bytes) }
        let upload = try await companion.query("encrypt", "set", TestCompanion.preKeyUpload(companion, keys))
        #expect(upload[attribute: "type"] == "result")

        func fetch(_ jids: [JID]) async throws -> [Node] {
            let answer = try await companion.query("encrypt", "get", [
                Node(tag: "key", children: jids.map { Node(tag: "user", attributes: ["jid": .jid($0), "reason": "identity"]) }),
            ])
            #expect(answer[attribute: "type"] == "result")
            return answer.child("list")?.children("user") ?? []
        }
        let own = JID(user: account.phone, device: 1, server: .whatsApp)
        var handedOut: [[UInt8]] = []
        for left in [1, 0] {
            let user = try #require(try await fetch([own]).first)
            #expect(user.jid("jid") == own)
            #expect(user.child("identity")?.bytes == companion.identityKey.publicKey)
            #expect(user.child("registration")?.bytes?.count == 4 && user.child("type")?.bytes == [5])
            handedOut.append(try #require(user.child("key")?.child("value")?.bytes))
            // whatsmeow prekeys.go uploadPreKeys: fewer than 5 left, so the server asks the device for more, after the answer.
            let notice = try await companion.expectNode()
            #expect(notice.tag == "notification" && notice[attribute: "type"] == "encrypt" && notice.jid("from") == .whatsAppServer)
            #expect(notice.child("count")?[attribute: "value"] == String(left))
            let count = try await companion.query("encrypt", "get", [Node(tag: "count")])
            #expect(count.child("count")?[attribute: "value"] == String(left))
        }
        #expect(Set(handedOut) == Set(keys.map(\.publicKey)))
        // None left: the signed prekey alone.
        let bare = try #require(try await fetch([own]).first)
        #expect(bare.child("key") == nil && bare.child("skey") != nil)

        // The phone (device 0, by LID too) has a bundle under the account key; never the same one-time key twice.
        let phone = try await fetch([JID(user: account.phone, server: .whatsApp), JID(user: account.lid, server: .lid),
                                     JID(user: account.phone, device: 9, server: .whatsApp)])
        #expect(phone.count == 3)
        #expect(phone[0].child("identity")?.bytes == account.identity.publicKey)
        #expect(phone[1].jid("jid") == JID(user: account.lid, server: .lid))
        let phoneKeys = phone.prefix(2).compactMap { $0.child("key")?.child("id")?.bytes }
        #expect(phoneKeys.count == 2 && phoneKeys[0] != phoneKeys[1])
        let signature = try #require(phone[0].child("skey")?.child("signature")?.bytes)
        let signedKey = try #require(phone[0].child("skey")?.child("value")?.bytes)
        #expect(XEdDSA.verify(signature: signature, message: [5] + signedKey, publicKey: account.identity.publicKey))
        #expect(phone[2].child("error")?[attribute: "code"] == "404")
        companion.close()
        await setup.close()
    }

    @Test func usyncListsThePhoneAndItsCompanionsInTheFormAsked() async throws {
        let setup = try await SimSetup()
        let account = try await setup.account()
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: account.phone)
        try await companion.login(setup.simulator, phone: account.phone, device: 1)
        #expect(try await companion.expectNode().tag == "success")
        _ = try await companion.expectNode()
        let answer = try await companion.query("usync", "get", [
            Node(tag: "usync", attributes: ["sid": "s1", "mode": "query", "last": "true", "index": "0", "context": "message"], children: [
                Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"]), Node(tag: "lid")]),
                Node(tag: "list", children: [
                    Node(tag: "user", attributes: ["jid": .jid(JID(user: account.phone, server: .whatsApp))]),
                    Node(tag: "user", attributes: ["jid": .jid(JID(user: account.lid, server: .lid))]),
                    Node(tag: "user", attributes: ["jid": .jid(JID(user: "15559990000", server: .whatsApp))]),
                ]),
            ]),
        ])
        let users = answer.child(path: "usync", "list")?.children("user") ?? []
        #expect(users.count == 3)
        for user in users.prefix(2) {
            let devices = user.child(path: "devices", "device-list")?.children("device") ?? []
            #expect(devices.map { $0[attribute: "id"] } == ["0", "1"])
            #expect(devices[1][attribute: "key-index"] == "1")
            #expect(user.child("lid")?.jid("val") == JID(user: account.lid, server: .lid))
        }
        #expect(users[1].jid("jid") == JID(user: account.lid, server: .lid))
        #expect(users[2].child(path: "devices", "device-list")?.children.isEmpty == true)
        #expect(users[2].child("lid") == nil)
        companion.close()
        await setup.close()
    }

    @Test func adminMessagingErrors() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let simulator = setup.simulator
        #expect(await admin(simulator, "POST", "/accounts/15559990000/send", ["to": "15550001111", "text": "x"]).status == 404)
        #expect(await admin(simulator, "POST", "/accounts/15550001111/send", ["to": "15559990000", "text": "x"]).status == 404)
        #expect(await admin(simulator, "POST", "/accounts/15550001111/send", ["to": "15550001111", "text": "x"]).status == 400)
        #expect(await admin(simulator, "POST", "/accounts/15550001111/send", ["to": "15550002222"]).status == 400)
        #expect(await admin(simulator, "POST", "/accounts/15550001111/send", ["to": "someone@g.us", "text": "x"]).status == 400)
        #expect(await admin(simulator, "GET", "/accounts/15550001111/inbox?after=-1").status == 400)
        #expect(await admin(simulator, "GET", "/accounts/15550001111/send").status == 405)
        #expect(await admin(simulator, "PUT", "/accounts/15550001111/auto-reply", ["text": 5]).status == 400)
        let empty = await admin(simulator, "GET", "/accounts/15550001111/inbox")
        #expect(empty.status == 200 && empty.json["messages"] == .array([]) && empty.json["next_cursor"] == .int(0))
        await setup.close()
    }
}

extension MessagingTests {
    /// whatsmeow retry.go handleRetryReceipt, the phone as the sender: a companion that cannot read the phone's message sends a
    /// retry receipt with its keys; the phone starts a new session from them and resends to that
    /// one device with the count. Played with WauseSignal's in-memory store as the companion.
    @Test func thePhoneAnswersARetryReceiptWithKeys() async throws {
        let setup = try await SimSetup()
        _ = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let companion = try await DeviceRequestsTests.loggedIn(setup)  // device 1 of 15550001111
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "can you read me"])
        #expect(posted.status == 200, "\(posted.json)")
        let first = try await companion.expectNode()
        #expect(first.tag == "message" && first[attribute: "id"] == posted.json["message_id"]?.stringValue)
        #expect(first.jid("from") == JID(user: "15550003333", server: .whatsApp))
        let id = try #require(first[attribute: "id"])

        // The companion "lost" whatever the first copy was encrypted with: it asks again, with keys.
        let store = InMemorySignalStore(identityKeyPair: companion.identityKey, registrationId: companion.registrationID)
        let signed = try SignalKeyHelper.generateSignedPreKey(identity: companion.identityKey, id: 7, timestamp: 0)
        let oneTime = SignalKeyHelper.generatePreKeys(start: 40, count: 1)[0]
        store.storeSignedPreKey(signed)
        store.storePreKey(oneTime)
        func bytes(_ value: UInt32, _ count: Int) -> [UInt8] { (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }
        try companion.send(Node(tag: "receipt", attributes: ["id": .text(id), "to": .jid(JID(user: "15550003333", server: .whatsApp)),
                                                             "type": "retry"], children: [
            Node(tag: "retry", attributes: ["count": "2", "id": .text(id), "t": .text(first[attribute: "t"] ?? "0"), "v": "1"]),
            Node(tag: "registration", bytes: bytes(companion.registrationID, 4)),
            Node(tag: "keys", children: [
                Node(tag: "type", bytes: [5]), Node(tag: "identity", bytes: companion.identityKey.publicKey),
                Node(tag: "key", children: [Node(tag: "id", bytes: bytes(oneTime.id, 3)), Node(tag: "value", bytes: oneTime.keyPair.publicKey)]),
                Node(tag: "skey", children: [Node(tag: "id", bytes: bytes(7, 3)), Node(tag: "value", bytes: signed.keyPair.publicKey),
                                             Node(tag: "signature", bytes: signed.signature)]),
            ]),
        ]))
        let ack = try await companion.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "class"] == "receipt" && ack[attribute: "type"] == "retry")
        var resend = try await companion.expectNode()
        while resend.tag != "message" { resend = try await companion.expectNode() }
        #expect(resend[attribute: "id"] == id && resend[attribute: "t"] == first[attribute: "t"])
        let enc = try #require(resend.child("enc"))
        #expect(enc[attribute: "type"] == "pkmsg" && enc[attribute: "count"] == "2")
        let address = SignalAddress(user: "15550003333", server: "s.whatsapp.net")
        let padded = try SessionCipher(address: address, store: store).decrypt(try PreKeySignalMessage(serialized: try #require(enc.bytes)))
        let message = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(padded))
        #expect(message.conversation == "can you read me")
        #expect(store.loadPreKey(id: oneTime.id) == nil)  // consumed by the resend's session
        companion.close()
        await setup.close()
    }
}

extension MessagingTests {
    /// whatsmeow notification.go handleDeviceNotification: linking and unlinking a companion is announced to connected devices with a
    /// `devices` notification whose `device_hash` is whatsmeow's participantListHashV2 of the new list.
    @Test func deviceListChangesAreAnnounced() async throws {
        let setup = try await SimSetup()
        let watcher = try await DeviceRequestsTests.loggedIn(setup)  // device 1 of 15550001111
        _ = try await PhoneLinkingTests.link(setup, TestCompanion(), phone: "15550001111")
        let added = try await watcher.expectNode()
        #expect(added.tag == "notification" && added[attribute: "type"] == "devices")
        #expect(added.jid("from") == JID(user: "15550001111", server: .whatsApp))
        let add = try #require(added.child("add"))
        #expect(add.child("device")?.jid("jid") == JID(user: "15550001111", device: 2, server: .whatsApp))
        #expect(add.child("device")?[attribute: "key-index"] == "2")
        // "2:" + base64 (no padding) of SHA-256("15550001111.0:0@s.whatsapp.net" ‖ ".0:1@…" ‖ ".0:2@…")[0..<6]
        let joined = (0...2).map { "15550001111.0:\($0)@s.whatsapp.net" }.joined()
        let expected = "2:" + Base64.encode(Array(Hash.sha256(Array(joined.utf8)).prefix(6)))  // 6 bytes: 8 characters, no padding
        #expect(add[attribute: "device_hash"] == expected)

        #expect(await admin(setup.simulator, "DELETE", "/accounts/15550001111/devices/2").status == 200)
        let removed = try await watcher.expectNode()
        #expect(removed.child("remove")?.child("device")?.jid("jid") == JID(user: "15550001111", device: 2, server: .whatsApp))
        watcher.close()
        await setup.close()
    }
}

extension MessagingTests {
    /// whatsmeow retry.go between the engine and a phone: the phone lost its session (its rows are deleted), so
    /// the engine's next `msg` fails there; the phone's retry receipts (the second with its keys)
    /// make the engine start a new session and resend, and the message is filed once.
    @Test func aPhoneThatLostItsSessionAsksAgainAndGetsTheMessage() async throws {
        let setup = try await Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550003333", "Carol")
        let alice = try await setup.linkedClient("15550001111")
        let first = try await MessagingTests.send(alice, to: "15550003333", "one")
        _ = try await MessagingTests.event(alice, "message.status") { $0["message_id"] == first["message_id"] && $0["status"] == "delivered" }
        try setup.simulator.state.commit { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM phone_sessions WHERE phone = '15550003333'")
        }
        let second = try await MessagingTests.send(alice, to: "15550003333", "two")
        let id = try #require(second["message_id"]?.stringValue)
        _ = try await MessagingTests.event(alice, "message.status") { $0["message_id"] == .string(id) && $0["status"] == "delivered" }
        let filed = await MessagingTests.inbox(setup.simulator, "15550003333").filter { $0["id"] == .string(id) }
        #expect(filed.count == 1 && filed.first?["text"] == "two")
        // Two retry receipts: the first (no keys) met the engine's old session again, the second
        // carried the phone's keys.
        let retries = try setup.simulator.state.database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT count FROM phone_retries WHERE message_id = ?", [.text(id)])
        }
        #expect(retries == 2)
        await setup.close()
    }
}

extension MessagingTests {
    /// LID addressing (whatsmeow send.go SendMessage; message.go parseMessageSource): a companion that is not the engine (WauseSignal
    /// with an in-memory store, stanzas by hand) writes to a wause client by LID — usync and the
    /// bundle in LID form — and the client, told the number to be asked by, answers LID-first: to the
    /// companion's LID device, from its own LID device, with `sender_pn` beside it.
    @Test func aCompanionWritesByLIDAndIsAnsweredByPhoneNumber() async throws {
        let setup = try await Setup()
        let ada = try setup.account("15550001111", "Ada")
        let xavier = try setup.account("15550005555", "Xavier")
        let alice = try await setup.linkedClient("15550001111")
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup.simulator, companion, phone: "15550005555")
        try await companion.login(setup.simulator, phone: "15550005555", device: 1)
        #expect(try await companion.expectNode().tag == "success")
        #expect(try await companion.expectNode().tag == "ib")
        let store = InMemorySignalStore(identityKeyPair: companion.identityKey, registrationId: companion.registrationID)
        store.storeSignedPreKey(SignedPreKeyRecord(id: 1, keyPair: companion.signedPreKey, signature: try XEdDSA.sign(
            message: [5] + companion.signedPreKey.publicKey, privateKey: companion.identityKey.privateKey, random: SystemRandom.bytes(64)),
                                                   timestamp: 0))

        let adaLID = JID(user: ada.lid, server: .lid)
        let devices = try await companion.query("usync", "get", [
            Node(tag: "usync", attributes: ["sid": "s", "mode": "query", "last": "true", "index": "0", "context": "message"], children: [
                Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"])]),
                Node(tag: "list", children: [Node(tag: "user", attributes: ["jid": .jid(adaLID)])]),
            ]),
        ])
        let listed = USyncDevices.parse(devices)
        #expect(listed.first?.devices == [JID(user: ada.lid, device: 0, server: .lid), JID(user: ada.lid, device: 1, server: .lid)])
        let target = JID(user: ada.lid, device: 1, server: .lid)
        let bundles = PreKeyStanzas.bundles(in: try await companion.query("encrypt", "get", [
            Node(tag: "key", children: [Node(tag: "user", attributes: ["jid": .jid(target), "reason": "identity"])]),
        ]))
        let address = SignalAddress(user: ada.lid, device: 1, server: "lid")
        try SessionBuilder(address: address, store: store).process(try #require(bundles[target]))
        var message = WAWebProtobufsE2E_Message()
        message.conversation = "hello by lid"
        let sealed = try SessionCipher(address: address, store: store).encrypt(MessageFormat.pad(try message.serializedBytes(),
                                                                                                  random: SystemRandom.bytes))
        try companion.send(Node(tag: "message", attributes: ["id": "3EB0LIDTEST0000000001", "to": .jid(adaLID), "type": "text"], children: [
            Node(tag: "participants", children: [Node(tag: "to", attributes: ["jid": .jid(target)], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": .text(sealed.type)], bytes: sealed.serialized),
            ])]),
        ]))
        let ack = try await companion.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "id"] == "3EB0LIDTEST0000000001" && ack.jid("from") == adaLID)
        let got = try await MessagingTests.received(alice, text: "hello by lid")
        #expect(got.data["sender_phone"] == "15550005555")
        #expect(got.data["sender_lid"] == .string(xavier.lid))

        // Alice answers the number; she knows Xavier's LID (sender_lid), so her device sends to his LID devices.
        let reply = try await MessagingTests.send(alice, to: "15550005555", "hello by number")
        var incoming = try await companion.expectNode()
        while incoming.tag != "message" {
            if incoming.tag == "receipt" {  // Alice's delivery receipt for ours, from her LID device
                #expect(incoming.jid("from") == target)
            }
            incoming = try await companion.expectNode()
        }
        #expect(incoming[attribute: "id"] == reply["message_id"]?.stringValue)
        #expect(incoming.jid("from") == target)
        #expect(incoming.jid("sender_pn") == JID(user: "15550001111", server: .whatsApp))
        let enc = try #require(incoming.child("enc"))
        let from = SignalAddress(user: ada.lid, device: 1, server: "lid")
        let padded = enc[attribute: "type"] == "pkmsg"
            ? try SessionCipher(address: from, store: store).decrypt(try PreKeySignalMessage(serialized: try #require(enc.bytes)))
            : try SessionCipher(address: from, store: store).decrypt(try SignalMessage(serialized: try #require(enc.bytes)))
        let text = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.unpad(padded))
        #expect(text.conversation == "hello by number")
        companion.close()
        await setup.close()
    }
}

extension MessagingTests {
    /// The queue keeps a stanza until its device answers it: a message until a receipt, a receipt
    /// until an ack; unanswered ones come again, in order, at the next login (then `<ib><offline>`).
    @Test func unansweredStanzasAreDeliveredAgainAfterReconnecting() async throws {
        let setup = try await SimSetup()
        _ = try setup.simulator.state.createAccount(phone: "15550003333", pushName: "Carol")
        let companion = try await DeviceRequestsTests.loggedIn(setup)  // device 1 of 15550001111
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "answer me"])
        let id = try #require(posted.json["message_id"]?.stringValue)
        let first = try await companion.expectNode()
        #expect(first.tag == "message" && first[attribute: "id"] == id)
        // No receipt: the device goes away without answering.
        companion.close()

        func login() async throws -> [Node] {
            try await companion.login(setup.simulator, phone: "15550001111", device: 1)
            #expect(try await companion.expectNode().tag == "success")
            var backlog: [Node] = []
            while true {
                let node = try await companion.expectNode()
                if node.tag == "ib" {
                    #expect(node.child("offline")?[attribute: "count"] == String(backlog.count))
                    return backlog
                }
                backlog.append(node)
            }
        }
        let again = try await login()
        #expect(again.map(\.tag) == ["message"])
        #expect(again.first?[attribute: "id"] == id && again.first?[attribute: "t"] == first[attribute: "t"])
        // Answered now: the receipt goes to Carol's devices; nothing is left for us.
        try companion.send(Node(tag: "receipt", attributes: ["id": .text(id), "to": .jid(JID(user: "15550003333", server: .whatsApp))]))
        let ack = try await companion.expectNode()
        #expect(ack.tag == "ack" && ack[attribute: "class"] == "receipt")
        try await companion.expectNothingPending()
        companion.close()
        #expect(try await login().isEmpty)

        // A receipt for one of our messages waits for our ack the same way.
        try setup.simulator.state.enqueue([QueuedStanza(phone: "15550001111", device: 1, kind: .receipt, node: Node(
            tag: "receipt", attributes: ["from": .jid(JID(user: "15550003333", server: .whatsApp)), "id": "3EB0AAAA", "t": "1"]))])
        setup.simulator.adminAPI.phones.router.push([("15550001111", 1)])
        #expect(try await companion.expectNode()[attribute: "id"] == "3EB0AAAA")
        companion.close()
        let receipts = try await login()
        #expect(receipts.map(\.tag) == ["receipt"])
        try companion.send(Node(tag: "ack", attributes: ["id": "3EB0AAAA", "class": "receipt", "to": .jid(JID(user: "15550003333", server: .whatsApp))]))
        try await companion.expectNothingPending()
        companion.close()
        #expect(try await login().isEmpty)
        companion.close()
        await setup.close()
    }
}

extension TestCompanion {
    /// The upload of whatsmeow prekeys.go uploadPreKeys, with these one-time prekeys and the registration's signed prekey.
    static func preKeyUpload(_ companion: TestCompanion, _ keys: [Curve25519KeyPair]) throws -> [Node] {
        func id(_ value: Int) -> [UInt8] { [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        let registration = companion.registrationID
        return [
            Node(tag: "registration", bytes: [UInt8(registration >> 24 & 0xFF), UInt8(registration >> 16 & 0xFF),
                                              UInt8(registration >> 8 & 0xFF), UInt8(registration & 0xFF)]),
            Node(tag: "type", bytes: [5]),
            Node(tag: "identity", bytes: companion.identityKey.publicKey),
            Node(tag: "list", children: keys.enumerated().map { index, key in
                Node(tag: "key", children: [Node(tag: "id", bytes: id(index + 1)), Node(tag: "value", bytes: key.publicKey)])
            }),
            Node(tag: "skey", children: [
                Node(tag: "id", bytes: id(1)), Node(tag: "value", bytes: companion.signedPreKey.publicKey),
                Node(tag: "signature", bytes: try XEdDSA.sign(message: [5] + companion.signedPreKey.publicKey,
                                                              privateKey: companion.identityKey.privateKey, random: SystemRandom.bytes(64))),
            ]),
        ]
    }
}

/// For states with no event to wait on (a virtual phone's inbox, the queue): checks `condition`
/// every 20 ms for up to 10 s of real time — a guard against hangs, never a timing assertion.
func poll(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    Issue.record("condition not met within 10 s")
}

/// What the suites driving a linked `WauseClient` against the sim share: `MessagingTests.Setup`,
/// and a method call whose failure throws.
protocol LinkedEngineSuite {}

extension LinkedEngineSuite {
    typealias Setup = MessagingTests.Setup

    static func call(_ client: WauseClient, _ name: String, _ arguments: JSONValue) async throws -> JSONObject {
        try await client.call(name, arguments).get()
    }

    /// The error a method call answers, or nil when it succeeds.
    static func error(_ client: WauseClient, _ name: String, _ arguments: JSONValue) async -> WauseError? {
        if case .failure(let error) = await client.call(name, arguments) { return error }
        return nil
    }
}
