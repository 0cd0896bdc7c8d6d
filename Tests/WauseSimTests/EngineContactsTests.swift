import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The contacts area (issue 14) against a real wause-sim over real sockets: who is on WhatsApp, user info and the
/// profile picture (downloaded from the sim's HTTPS media host), local names winning everywhere, presence
/// subscriptions and typing both ways, and what companions tell the phones.
@Suite struct EngineContactsTests: LinkedEngineSuite {
    @Test func isOnWhatsAppUserInfoAndProfilePicture() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let bob = try setup.account("15552220002", "Bob")
        let alice = try await setup.linkedAccount("15552220001", "Ada").client

        let checked = try await Self.call(alice, "whatsapp_is_on_whatsapp", ["phones": ["+1 555 222 0002", "15552229999"]])
        let results = checked["results"]?.arrayValue ?? []
        #expect(results.count == 2)
        #expect(results.first == ["phone": "15552220002", "on_whatsapp": true, "jid": "15552220002@s.whatsapp.net",
                                  "lid": .string("\(bob.lid)@lid")])
        #expect(results.last == ["phone": "15552229999", "on_whatsapp": false])
        // Bad input is refused with the number named, nothing asked.
        if case .failure(let error) = await alice.call("whatsapp_is_on_whatsapp", ["phones": ["12"]]) {
            #expect(error.code == .invalidRequest && error.details?["phone"] == "12")
        } else {
            Issue.record("a short number was accepted")
        }
        #expect(await alice.call("whatsapp_is_on_whatsapp", ["phones": []]).failureCode == .invalidRequest)

        // Bob's phone sets an about text, the business flag and a picture (a PNG here).
        let picture = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + SystemRandom.bytes(2000)
        let profile = await admin(setup.simulator, "PUT", "/accounts/15552220002/profile",
                                  ["about": "Out fishing", "business": true, "picture_base64": .string(Base64.encode(picture))])
        #expect(profile.status == 200, "\(profile.json)")
        let bad = await admin(setup.simulator, "PUT", "/accounts/15552220002/profile", ["picture_base64": .string(Base64.encode([1, 2, 3]))])
        #expect(bad.status == 400 && bad.json["code"] == "invalid_request")

        let info = try await Self.call(alice, "whatsapp_get_user_info", ["phones": ["15552220002"]])
        let user = try #require(info["users"]?.arrayValue?.first)
        #expect(user["phone"] == "15552220002" && user["about"] == "Out fishing" && user["business"] == true)
        // No name yet: Bob has sent nothing, so no push name was seen.
        #expect(user["lid"] == .string("\(bob.lid)@lid") && user["name"] == .null)
        #expect(user["picture_id"] == profile.json["picture_id"] && user["picture_id"] != .null)
        #expect(user["devices"]?.arrayValue?.first == "15552220002@s.whatsapp.net")

        let fetched = try await Self.call(alice, "whatsapp_get_profile_picture", ["target": "15552220002", "download": true])
        #expect(fetched["has_picture"] == true && fetched["picture_id"] == user["picture_id"])
        let path = try #require(fetched["path"]?.stringValue)
        #expect(fetched["sha256"] == .string(Hex.encode(Hash.sha256(picture))) && fetched["size"] == .int(Int64(picture.count)))
        var info0 = stat()
        #expect(stat(path, &info0) == 0 && info0.st_mode & 0o777 == 0o600)
        #expect(path.contains("/media/profile-pictures/"))

        // No picture: has_picture false with the reason, not an error.
        let none = try await Self.call(alice, "whatsapp_get_profile_picture", ["target": "15552220001"])
        #expect(none["has_picture"] == false && none["reason"] == "not_set")
    }

    @Test func localNamesWinEverywhereAndSearchFindsThem() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15552230002", "Bob")
        let alice = try await setup.linkedAccount("15552230001", "Ada").client
        #expect(await admin(setup.simulator, "POST", "/accounts/15552230002/send", ["to": "15552230001", "text": "hi it's bob"]).status == 200)
        _ = try await MessagingTests.received(alice, text: "hi it's bob")

        // The push name first, then the local name over it in search, chat list and messages.
        var found = try await Self.call(alice, "whatsapp_search_contacts", ["query": "bo"])
        #expect(found["contacts"]?.arrayValue?.first?["name"] == "Bob" && found["contacts"]?.arrayValue?.first?["name_source"] == "push")
        let named = try await Self.call(alice, "whatsapp_set_contact_name", ["contact": "15552230002", "name": "Robert (plumber)"])
        #expect(named["contact"]?["name"] == "Robert (plumber)" && named["contact"]?["name_source"] == "local")
        found = try await Self.call(alice, "whatsapp_search_contacts", ["query": "PLUMB"])
        #expect(found["count"] == 1 && found["contacts"]?.arrayValue?.first?["push_name"] == "Bob")
        #expect(try await Self.call(alice, "whatsapp_search_contacts", ["query": "2230002"])["count"] == 1)
        let chats = try await Self.call(alice, "whatsapp_list_chats", [:])["chats"]?.arrayValue ?? []
        #expect(chats.first { $0["id"] == "15552230002@s.whatsapp.net" }?["name"] == "Robert (plumber)")
        let read = try await Self.call(alice, "whatsapp_read_messages", ["phone_number": "15552230002"])
        #expect(read["messages"]?.arrayValue?.last?["author"] == "Robert (plumber)")
        // The local name names the recipient too.
        #expect(try await Self.call(alice, "whatsapp_get_user_info", ["phones": ["Robert (plumber)"]])["users"]?.arrayValue?.count == 1)

        // A sync refreshes what the server says and never touches the local name.
        let synced = try await Self.call(alice, "whatsapp_sync_contact_names", ["force": true])
        #expect((synced["fetched"]?.intValue ?? 0) >= 1)
        #expect(synced["contacts"]?.arrayValue?.first { $0["phone"] == "15552230002" }?["name"] == "Robert (plumber)")
        // Fresh now: without force nothing is fetched again.
        #expect(try await Self.call(alice, "whatsapp_sync_contact_names", ["contacts": ["15552230002"]])["fetched"] == 0)

        // No push name configured: presence is refused, as WhatsApp would.
        #expect(await alice.call("whatsapp_set_presence", ["state": "available"]).failureCode == .invalidRequest)

        // Empty clears: the push name is back.
        _ = try await Self.call(alice, "whatsapp_set_contact_name", ["contact": "15552230002", "name": ""])
        let again = try await Self.call(alice, "whatsapp_read_messages", ["phone_number": "15552230002"])
        #expect(again["messages"]?.arrayValue?.last?["author"] == "Bob")
        #expect(try await Self.call(alice, "whatsapp_search_contacts", ["query": "plumb"])["count"] == 0)
    }

    @Test func presenceAndTypingBothWays() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15552240001", "Ada")
        _ = try setup.account("15552240002", "Bob")
        let alice = try await setup.linkedClient("15552240001", pushName: "Ada")

        // Subscribing answers at once with the current presence; a change follows.
        let start = alice.events.latestCursor
        #expect(try await Self.call(alice, "whatsapp_subscribe_presence", ["contact": "15552240002"])["contact"] == "15552240002@s.whatsapp.net")
        let first = try await MessagingTests.event(alice, "presence.changed", after: start) { $0["contact"] == "15552240002@s.whatsapp.net" }
        #expect(first.data["state"] == "unavailable")
        let online = await admin(setup.simulator, "PUT", "/accounts/15552240002/presence", ["state": "available"])
        #expect(online.status == 200, "\(online.json)")
        let changed = try await MessagingTests.event(alice, "presence.changed", after: first.cursor) { $0["state"] == "available" }
        #expect(changed.data["contact"] == "15552240002@s.whatsapp.net" && changed.data["last_seen"] == .null)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552240002/presence", ["state": "unavailable"]).status == 200)
        let away = try await MessagingTests.event(alice, "presence.changed", after: changed.cursor) { $0["state"] == "unavailable" }
        #expect(away.data["last_seen"]?.stringValue != nil)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552240002/presence", ["state": "busy"]).status == 400)

        // Bob types, records, stops.
        #expect(await admin(setup.simulator, "POST", "/accounts/15552240002/typing", ["to": "15552240001", "state": "composing"]).status == 200)
        let typing = try await MessagingTests.event(alice, "typing.started", after: away.cursor) { _ in true }
        #expect(typing.data["chat"] == "15552240002@s.whatsapp.net" && typing.data["from"] == "15552240002@s.whatsapp.net")
        #expect(typing.data["media"] == .null)
        #expect(await admin(setup.simulator, "POST", "/accounts/15552240002/typing", ["to": "15552240001", "state": "recording"]).status == 200)
        let recording = try await MessagingTests.event(alice, "typing.started", after: typing.cursor) { _ in true }
        #expect(recording.data["media"] == "audio")
        #expect(await admin(setup.simulator, "POST", "/accounts/15552240002/typing", ["to": "15552240001", "state": "paused"]).status == 200)
        _ = try await MessagingTests.event(alice, "typing.stopped", after: recording.cursor) { $0["from"] == "15552240002@s.whatsapp.net" }

        // We type to Bob and go online: the sim keeps both for the phones (neither stanza is answered).
        _ = try await Self.call(alice, "whatsapp_send_typing", ["to": "15552240002", "state": "composing"])
        _ = try await Self.call(alice, "whatsapp_set_presence", ["state": "available"])
        // A round trip on the same connection after both: the server handled them in order before answering it.
        _ = try await Self.call(alice, "whatsapp_is_on_whatsapp", ["phones": ["15552240002"]])
        let bobSees = await admin(setup.simulator, "GET", "/accounts/15552240002/presence")
        let activity = bobSees.json["activity"]?.arrayValue ?? []
        #expect(activity.contains { $0["kind"] == "typing" && $0["state"] == "composing" && $0["from"] == "15552240001@s.whatsapp.net" },
                "\(bobSees.json)")
        let adaSees = await admin(setup.simulator, "GET", "/accounts/15552240001/presence")
        #expect((adaSees.json["activity"]?.arrayValue ?? []).contains { $0["kind"] == "presence" && $0["state"] == "available" }, "\(adaSees.json)")
        #expect(bobSees.json["subscribers"]?.arrayValue?.count == 1)
    }
}

extension EngineContactsTests {
    @Test func typingInAGroupAndPresenceByLID() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15552250001", "Ada")
        let bob = try setup.account("15552250002", "Bob")
        let alice = try await setup.linkedClient("15552250001", pushName: "Ada")
        let created = try await Self.call(alice, "whatsapp_create_group", ["name": "Crew", "participants": ["15552250002"]])
        let group = try #require(created["group_id"]?.stringValue)

        // Bob types in the group: the event names the group and Bob.
        let start = alice.events.latestCursor
        #expect(await admin(setup.simulator, "POST", "/accounts/15552250002/typing", ["to": .string(group), "state": "composing"]).status == 200)
        let typing = try await MessagingTests.event(alice, "typing.started", after: start) { $0["chat"] == .string(group) }
        #expect(typing.data["from"] == "15552250002@s.whatsapp.net")
        // We type in the group: Bob's phone sees it with us as the participant.
        _ = try await Self.call(alice, "whatsapp_send_typing", ["to": "Crew", "state": "paused"])
        _ = try await Self.call(alice, "whatsapp_is_on_whatsapp", ["phones": ["15552250002"]])
        let seen = await admin(setup.simulator, "GET", "/accounts/15552250002/presence")
        #expect((seen.json["activity"]?.arrayValue ?? []).contains { $0["from"] == "15552250001@s.whatsapp.net" && $0["state"] == "paused" },
                "\(seen.json)")
        // Not in that group: 404.
        _ = try setup.account("15552250003", "Carol")
        #expect(await admin(setup.simulator, "POST", "/accounts/15552250003/typing", ["to": .string(group), "state": "composing"]).status == 404)

        // A subscription by LID is answered in LID form; once the number is known, events name the phone JID.
        let lidJID = "\(bob.lid)@lid"
        let other = try await setup.linkedClient("15552250003", pushName: "Carol")
        let before = other.events.latestCursor
        _ = try await Self.call(other, "whatsapp_subscribe_presence", ["contact": .string(lidJID)])
        let byLID = try await MessagingTests.event(other, "presence.changed", after: before) { _ in true }
        #expect(byLID.data["contact"] == .string(lidJID))
        _ = try await Self.call(other, "whatsapp_is_on_whatsapp", ["phones": ["15552250002"]])
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552250002/presence", ["state": "available"]).status == 200)
        let byPhone = try await MessagingTests.event(other, "presence.changed", after: byLID.cursor) { $0["state"] == "available" }
        #expect(byPhone.data["contact"] == "15552250002@s.whatsapp.net")
    }

    @Test func theSimRefusesBadProfileAndPresenceInput() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        _ = try setup.account("15552260001", "Ada")
        let long = String(repeating: "x", count: 140)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552260001/profile", ["about": .string(long)]).status == 400)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552260001/profile", ["business": "yes"]).status == 400)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552260001/profile", ["picture_base64": "%%%"]).status == 400)
        // Nothing of a refused request was stored.
        let profile = await admin(setup.simulator, "GET", "/accounts/15552260001/profile")
        #expect(profile.status == 200 && profile.json["business"] == false && profile.json["picture_id"] == .null)
        #expect(await admin(setup.simulator, "POST", "/accounts/15552260001/typing", ["to": "15552269999", "state": "composing"]).status == 404)
        #expect(await admin(setup.simulator, "POST", "/accounts/15552260001/typing", ["to": "15552260001", "state": "singing"]).status == 400)
        #expect(await admin(setup.simulator, "GET", "/accounts/15552260001/typing").status == 405)
        #expect(await admin(setup.simulator, "PUT", "/accounts/15552269999/presence", ["state": "available"]).status == 404)
    }

    @Test func presenceToolsNeedALinkedDevice() async throws {
        let setup = try await Setup()
        defer { Task { await setup.close() } }
        let directory = TemporaryDirectory(prefix: "wause-contacts-unlinked")
        let client = try WauseClient(config: setup.config(directory.path), environment: .live)
        defer { client.close() }
        for (name, arguments) in [("whatsapp_set_presence", ["state": "available"]), ("whatsapp_is_on_whatsapp", ["phones": ["15550001111"]]),
                                  ("whatsapp_send_typing", ["to": "15550001111", "state": "paused"])] as [(String, JSONValue)] {
            #expect(await client.call(name, arguments).failureCode == .whatsappNotPaired, "\(name)")
        }
        // Local tools work unlinked.
        #expect(try await Self.call(client, "whatsapp_search_contacts", ["query": "x"])["count"] == 0)
    }
}

extension Result where Failure == WauseError {
    var failureCode: WauseError.Code? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
