import Testing
@testable import WauseCore
import WauseSupport
import WauseTestSupport

/// The guard rails on sending (issue 14 "Agent helpers", "Definitions"; SendGuard.swift):
/// `allowed_recipients` matched by the person's identity in a real store, and
/// `send_rate_per_minute` as a sliding window on a hand-moved clock.
@Suite struct SendGuardTests {
    @Test func configKeysTheirDefaultsAndForms() throws {
        let defaults = try ClientConfig(json: ["data_dir": "/d"])
        #expect(defaults.allowedRecipients == nil && defaults.sendRatePerMinute == 60)

        let config = try ClientConfig(json: [
            "data_dir": "/d", "send_rate_per_minute": 5,
            "allowed_recipients": ["+1 555 000-1111", "15550002222:3@s.whatsapp.net", "98765@lid", "120363000000000001@g.us"],
        ])
        #expect(config.sendRatePerMinute == 5)
        #expect(config.allowedRecipients == ["15550001111@s.whatsapp.net", "15550002222@s.whatsapp.net", "98765@lid",
                                             "120363000000000001@g.us"])
        // Flags and WAUSE_* variables: comma-separated text; 0 turns the limit off; an empty list allows no one.
        let variables = ["WAUSE_ALLOWED_RECIPIENTS": "15550001111, 4242@lid", "WAUSE_SEND_RATE_PER_MINUTE": "0"]
        let fromEnvironment = try ClientConfig(json: ["data_dir": "/d"], variable: { variables[$0] })
        #expect(fromEnvironment.allowedRecipients == ["15550001111@s.whatsapp.net", "4242@lid"] && fromEnvironment.sendRatePerMinute == 0)
        #expect(try ClientConfig(json: ["data_dir": "/d", "allowed_recipients": []]).allowedRecipients == [])

        for (key, value) in [("allowed_recipients", JSONValue.array(["not a phone"])), ("allowed_recipients", .array(["x@broadcast"])),
                             ("allowed_recipients", .array([.int(1)])), ("send_rate_per_minute", .int(-1)),
                             ("send_rate_per_minute", "many")] {
            #expect(throws: WauseError.self, "\(key) = \(value)") { try ClientConfig(json: ["data_dir": "/d", key: value]) }
            do { _ = try ClientConfig(json: ["data_dir": "/d", key: value]) } catch {
                #expect(error.code == .invalidRequest && error.message.contains(key), "\(error.message)")
            }
        }
        #expect(ClientConfig.keys.contains { $0.name == "allowed_recipients" } && ClientConfig.keys.contains { $0.name == "send_rate_per_minute" })
    }

    @Test func anAllowedPersonPassesByPhoneAndByLIDOthersAreForbiddenByName() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        // The store knows Bea by phone and LID (one contact); Cid only by phone.
        _ = try store.contact(phone: "15550002222", lid: "777000222", now: 1_000)
        _ = try store.contact(phone: "15550003333", lid: nil, now: 1_000)

        var config = ClientConfig(dataDirectory: temp.path)
        try config.apply(key: "allowed_recipients", value: "777000222@lid, 120363000000000001@g.us")
        let guardRails = SendGuard(config: config, clock: { 1_000 })
        // Allowed by LID, sent to by phone: the same person.
        try guardRails.checkRecipient("15550002222@s.whatsapp.net", store: store)
        try guardRails.checkRecipient("777000222@lid", store: store)
        try guardRails.checkRecipient("120363000000000001@g.us", store: store)
        for (chat, given) in [("15550003333@s.whatsapp.net", "Cid"), ("120363000000000009@g.us", "120363000000000009@g.us")] {
            do {
                try guardRails.checkRecipient(chat, given: given, store: store)
                Issue.record("\(chat) must be forbidden")
            } catch {
                #expect(error.code == .forbiddenRecipient && error.message.contains(chat))
                #expect(error.details?["recipient"] == .string(chat))
                #expect(error.details?["to"] == (given == chat ? nil : .string(given)))
            }
        }

        // And the other way round: allowed by phone, sent to by LID.
        try config.apply(key: "allowed_recipients", value: "+1 555 000 2222")
        try SendGuard(config: config, clock: { 1_000 }).checkRecipient("777000222@lid", store: store)
        // An empty list allows no one; no list allows everyone.
        try config.apply(key: "allowed_recipients", value: "")
        #expect(throws: WauseError.self) { try SendGuard(config: config, clock: { 1_000 }).checkRecipient("777000222@lid", store: store) }
        try SendGuard(config: ClientConfig(dataDirectory: temp.path), clock: { 1_000 }).checkRecipient("15550009999@s.whatsapp.net", store: store)
    }

    @Test func theRateIsASlidingMinuteAndRefusedOrFailedCallsTakeNoSlot() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let clock = TestClock()
        var config = ClientConfig(dataDirectory: temp.path)
        config.sendRatePerMinute = 3
        let guardRails = SendGuard(config: config, clock: { clock.now })
        var queued = 0
        func send() throws(WauseError) { try guardRails.admit("15550002222@s.whatsapp.net", store: store) { () throws(WauseError) in queued += 1 } }
        func retryAfter() -> Int64? {
            do { try send(); return nil } catch {
                #expect(error.code == .rateLimited && error.details?["limit"] == 3)
                return error.details?["retry_after"]?.intValue
            }
        }

        try send()                       // t = 0
        clock.advance(.milliseconds(20_500))
        try send()                       // t = 20.5 s
        try send()
        // Full: the oldest leaves the window at t = 60 s, 39.5 s from now → 40 (whole seconds, rounded up).
        #expect(retryAfter() == 40)
        #expect(queued == 3)
        clock.advance(.milliseconds(39_499))
        #expect(retryAfter() == 1)      // 1 ms left still says 1, never 0
        clock.advance(.milliseconds(1))
        try send()                       // t = 60 s: the first left the window
        #expect(retryAfter() == 21)     // the next to leave is t = 20.5 s → at 80.5 s
        #expect(queued == 4)

        // A call whose enqueue fails gives its slot back.
        clock.advance(.seconds(61))
        for _ in 0..<3 {
            #expect(throws: WauseError.self) {
                try guardRails.admit("15550002222@s.whatsapp.net", store: store) { () throws(WauseError) in throw .internal("disk full") }
            }
        }
        try send()
        try send()
        try send()
        #expect(retryAfter() == 60)
        // Several messages at once take as many slots; more than the limit can never fit.
        clock.advance(.seconds(60))
        try guardRails.admit("15550002222@s.whatsapp.net", count: 2, store: store) { () throws(WauseError) in queued += 2 }
        #expect(throws: WauseError.self) { try guardRails.admit("15550002222@s.whatsapp.net", count: 2, store: store) { () throws(WauseError) in } }
        #expect(throws: WauseError.self) { try guardRails.admit("15550002222@s.whatsapp.net", count: 4, store: store) { () throws(WauseError) in } }
        #expect(queued == 9)

        // A forbidden recipient is refused before the rate is looked at, and takes no slot either.
        config.allowedRecipients = ["15550001111@s.whatsapp.net"]
        config.sendRatePerMinute = 1
        let strict = SendGuard(config: config, clock: { clock.now })
        do { try strict.admit("15550002222@s.whatsapp.net", store: store) { () throws(WauseError) in queued += 1 } } catch {
            #expect(error.code == .forbiddenRecipient)
        }
        try strict.admit("15550001111@s.whatsapp.net", store: store) { () throws(WauseError) in queued += 1 }
        #expect(queued == 10)

        // 0 is no limit.
        config.allowedRecipients = nil
        config.sendRatePerMinute = 0
        let unlimited = SendGuard(config: config, clock: { clock.now })
        for _ in 0..<500 { try unlimited.admit("15550002222@s.whatsapp.net", store: store) { () throws(WauseError) in } }
    }
}
