import Testing
@testable import WauseCore
@testable import WauseSim
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Many accounts in one engine (issue 16 "Many accounts", "Tests"): an `Accounts` over a real
/// accounts directory, each account a real `WauseClient` with its own SQLite store, linked by the
/// real wause-sim's phones, chatting with each other and with a virtual phone; one logged out
/// from the sim while the other keeps sending; accounts added and deleted at run time.
@Suite struct AccountsTests {
    /// Links the account `id` to `phone` through routed calls (`account` on the pairing method).
    static func link(_ accounts: Accounts, _ id: String, to phone: String, _ setup: MessagingTests.Setup) async throws -> WauseClient {
        let client = try accounts.client(for: id).client
        let started = try await accounts.call("whatsapp_start_auth", ["account": .string(id)]).get()
        #expect(started["state"] == "qr")
        let qr = try #require(await nextEvent(client, named: "pairing.qr", after: 0)?.data["qr"]?.stringValue)
        let scan = await admin(setup.simulator, "POST", "/accounts/\(phone)/scan", ["qr": .string(qr)])
        #expect(scan.status == 200, "\(scan.json)")
        try await MessagingTests.waitForLogin(client, after: 0)
        return client
    }

    static func send(_ accounts: Accounts, from account: String, to phone: String, _ text: String) async throws -> String {
        let result = try await accounts.call("whatsapp_send_message",
                                             ["account": .string(account), "phone_number": .string(phone), "message": .string(text)]).get()
        #expect(result["ok"] == .bool(true), "\(result)")
        return try #require(result["message_id"]?.stringValue)
    }

    @Test func twoAccountsInOneEngineChatWithEachOtherAndWithAPhone() async throws {
        let setup = try await MessagingTests.Setup()
        _ = try setup.account("15550001111", "Ada")
        _ = try setup.account("15550002222", "Bob")
        _ = try setup.account("15550003333", "Carol")
        let directory = TemporaryDirectory(prefix: "wause-accounts")
        let accounts = try Accounts(directory: directory.path + "/accounts", template: setup.config(directory.path + "/unused"))
        #expect(try await accounts.call("whatsapp_list_accounts", .null).get()["accounts"] == .array([]))
        // No account yet: any other method says how to add one.
        #expect(await accounts.call("whatsapp_status", .null).failureCode == .invalidRequest)

        let added = try await accounts.call("whatsapp_add_account", ["name": "ada"]).get()
        #expect(added["account"] == "ada" && added["state"] == "stopped" && added["linked"] == .bool(false))
        // One account: `account` may be omitted.
        #expect(try await accounts.call("whatsapp_status", .null).get()["state"] == "stopped")
        let generated = try await accounts.call("whatsapp_add_account", .null).get()
        let bobID = try #require(generated["account"]?.stringValue)
        #expect(Accounts.isValidID(bobID) && bobID != "ada")
        #expect(await accounts.call("whatsapp_add_account", ["name": "ada"]).failureCode == .invalidRequest)
        #expect(await accounts.call("whatsapp_add_account", ["name": "Not Valid"]).failureCode == .invalidRequest)
        // Each store is its own 0700 directory under the accounts directory.
        #expect(accounts.ids == ["ada", bobID].sorted())
        #expect(try accounts.client(for: "ada").client.store.directory.hasPrefix(accounts.directory + "/ada"))

        // Two accounts and none named: invalid_request listing them; an unknown one: not_found.
        let ambiguous = await accounts.call("whatsapp_status", .null)
        #expect(ambiguous.failureCode == .invalidRequest)
        #expect(ambiguous.failureDetails?["accounts"] == .array([.string("ada"), .string(bobID)].sorted { $0.stringValue! < $1.stringValue! }))
        #expect(await accounts.call("whatsapp_status", ["account": "nobody"]).failureCode == .notFound)
        #expect(await accounts.call("whatsapp_status", ["account": 5]).failureCode == .invalidRequest)

        let ada = try await AccountsTests.link(accounts, "ada", to: "15550001111", setup)
        let bob = try await AccountsTests.link(accounts, bobID, to: "15550002222", setup)
        // By phone number as well as by id.
        #expect(try await accounts.call("whatsapp_get_account", ["account": "+15550002222"]).get()["account"] == .string(bobID))
        let listed = try await accounts.call("whatsapp_list_accounts", .null).get()["accounts"]?.arrayValue ?? []
        #expect(listed.map { $0["state"] } == [.string("ready"), .string("ready")])
        #expect(Set(listed.compactMap { $0["phone"]?.stringValue }) == ["+15550001111", "+15550002222"])

        // One account reconnects; the other's connection is untouched.
        let bobCursor = bob.events.latestCursor
        let reconnected = try await accounts.call("whatsapp_reconnect_account", ["account": "ada", "timeout": 30]).get()
        #expect(reconnected["status"]?["state"] == "ready")
        #expect(try bob.events.events(after: bobCursor, limit: 10).allSatisfy { $0.name != "account.disconnected" })

        // Account to account, both ways, through the sim.
        let hello = try await AccountsTests.send(accounts, from: "ada", to: "15550002222", "hello bob")
        let got = try await MessagingTests.received(bob, text: "hello bob")
        #expect(got.data["message"]?["id"] == .string(hello))
        _ = try await AccountsTests.send(accounts, from: "+15550002222", to: "15550001111", "hi ada")
        _ = try await MessagingTests.received(ada, text: "hi ada")
        // Each account's own history: Bob's chats are not Ada's.
        let bobChats = try await accounts.call("whatsapp_read_messages", ["account": .string(bobID), "phone_number": "15550001111"]).get()
        #expect(bobChats["messages"]?.arrayValue?.contains { $0["body"] == "hello bob" } == true)

        // With a virtual phone.
        let posted = await admin(setup.simulator, "POST", "/accounts/15550003333/send", ["to": "15550001111", "text": "hi from carol"])
        #expect(posted.status == 200, "\(posted.json)")
        _ = try await MessagingTests.received(ada, text: "hi from carol")

        // Bob's phone removes his device: Bob is logged out, Ada keeps sending and receiving.
        let bobJID = try #require(try bob.store.linkedAccount()?.jid)
        let device = bobJID.split(separator: ":").last?.split(separator: "@").first.map(String.init) ?? "1"
        let cursor = bob.events.latestCursor
        #expect(await admin(setup.simulator, "DELETE", "/accounts/15550002222/devices/\(device)").status == 200)
        _ = try #require(await nextEvent(bob, named: "account.logged_out", after: cursor))
        let status = try await accounts.call("whatsapp_get_account_status", ["account": .string(bobID)]).get()
        #expect(status["status"]?["state"] == "logged_out")
        let adaCursor = ada.events.latestCursor
        let toCarol = try await AccountsTests.send(accounts, from: "ada", to: "15550003333", "still here")
        _ = try await MessagingTests.event(ada, "message.status", after: adaCursor) {
            $0["message_id"] == .string(toCarol) && $0["status"] == "delivered"
        }
        #expect(try await accounts.call("whatsapp_get_account", ["account": "ada"]).get()["state"] == "ready")

        // Logging out an account the phone already removed is still answered (nothing left to unlink).
        let logout = try await accounts.call("whatsapp_logout_account", ["account": .string(bobID)]).get()
        #expect(logout["account"] == .string(bobID) && logout["logout"]?["ok"] == .bool(true))

        // Deleted at run time: its directory goes, Ada is untouched.
        #expect(await accounts.call("whatsapp_delete_account", ["account": .string(bobID), "confirm": false]).failureCode == .invalidRequest)
        let deleted = try await accounts.call("whatsapp_delete_account", ["account": .string(bobID), "confirm": true]).get()
        #expect(deleted["deleted"] == .bool(true))
        #expect(accounts.ids == ["ada"])
        #expect(access(accounts.directory + "/" + bobID, F_OK) != 0)
        #expect(await accounts.call("whatsapp_get_account", ["account": .string(bobID)]).failureCode == .notFound)
        // One account again: `account` may be omitted.
        #expect(try await accounts.call("whatsapp_status", .null).get()["state"] == "ready")

        // Reopened, the linked account logs in again by itself.
        let before = ada.events.latestCursor
        _ = await accounts.close(flushingFor: .zero)
        let reopened = try Accounts(directory: accounts.directory, template: setup.config(directory.path + "/unused"))
        #expect(reopened.ids == ["ada"])
        let again = try reopened.client(for: "ada").client
        try await MessagingTests.waitForLogin(again, after: before)
        _ = try await AccountsTests.send(reopened, from: "ada", to: "15550003333", "after a restart")
        _ = await reopened.close(flushingFor: .zero)
        await setup.close()
    }

    @Test func aStoreThatWillNotOpenDoesNotStopTheOthers() async throws {
        let setup = try await MessagingTests.Setup()
        let directory = TemporaryDirectory(prefix: "wause-accounts-corrupt")
        let root = directory.path + "/accounts"
        let first = try Accounts(directory: root, template: setup.config(directory.path + "/unused"))
        _ = try await first.call("whatsapp_add_account", ["name": "good"]).get()
        _ = try await first.call("whatsapp_add_account", ["name": "bad"]).get()
        _ = await first.close(flushingFor: .zero)
        // Garbage where the bad account's database is.
        let database = root + "/bad/wause.db"
        #expect(access(database, F_OK) == 0, "the store file is \(database)")
        let file = fopen(database, "w")
        fputs(String(repeating: "not a database ", count: 100), file)
        fclose(file)

        let accounts = try Accounts(directory: root, template: setup.config(directory.path + "/unused"))
        let listed = try await accounts.call("whatsapp_list_accounts", .null).get()["accounts"]?.arrayValue ?? []
        #expect(listed.first { $0["account"] == "bad" }?["state"] == "failed")
        #expect(listed.first { $0["account"] == "good" }?["state"] == "stopped")
        #expect(try await accounts.call("whatsapp_status", ["account": "good"]).get()["state"] == "stopped")
        #expect(await accounts.call("whatsapp_status", ["account": "bad"]).failureCode == .internal)
        // Each account's webhook deliveries are named by its id (`<account>:<cursor>`).
        let hook = try await accounts.call("whatsapp_add_webhook", ["account": "good", "url": "http://127.0.0.1:9/hook"]).get()
        let hookID = try #require(hook["webhook"]?["id"]?.stringValue)
        _ = try await accounts.call("whatsapp_test_webhook", ["account": "good", "webhook": .string(hookID)]).get()
        let deliveries = try await accounts.call("whatsapp_list_webhook_deliveries", ["account": "good"]).get()["deliveries"]?.arrayValue ?? []
        #expect(!deliveries.isEmpty && deliveries.allSatisfy { $0["id"]?.stringValue?.hasPrefix("good:") == true }, "\(deliveries)")
        // A broken account can still be deleted.
        _ = try await accounts.call("whatsapp_delete_account", ["account": "bad", "confirm": true]).get()
        #expect(accounts.ids == ["good"])
        _ = await accounts.close(flushingFor: .zero)
        await setup.close()
    }

    @Test func aSingleAccountClientAnswersAccountMethodsWithInvalidRequest() async throws {
        let directory = TemporaryDirectory(prefix: "wause-single")
        let client = try WauseClient(config: ClientConfig(dataDirectory: directory.path))
        for name in AccountMethods.names.sorted() {
            let arguments: JSONValue = name == "whatsapp_delete_account" ? ["account": "x", "confirm": true] : ["account": "x"]
            let result = await client.call(name, name == "whatsapp_list_accounts" || name == "whatsapp_add_account" ? .null : arguments)
            guard case .failure(let error) = result else { Issue.record("\(name) answered in single-account mode"); continue }
            #expect(error.code == .invalidRequest && error.message.contains("accounts_dir"), "\(name): \(error)")
        }
        client.close()
    }
}

extension Result where Failure == WauseError {
    var failureDetails: JSONObject? { if case .failure(let error) = self { return error.details }; return nil }
}
