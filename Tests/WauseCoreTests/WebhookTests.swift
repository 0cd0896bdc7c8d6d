import Synchronization
import Testing
@testable import WauseCore
import WauseCrypto
import WauseSupport
import WauseTransport
import WauseTestSupport

/// Signed webhooks (issue 16 "Signed webhooks"; Webhooks/): the signature against a vector made
/// by Python's hmac, the retry rules on virtual time, Retry-After, the URL and event-filter rules,
/// and the worker over a real store with a scripted endpoint.
@Suite struct WebhookTests {
    @Test func signatureMatchesAnIndependentHMAC() {
        // python3: hmac.new(b"whsec_0123456789abcdef", b"1700000000." + body, hashlib.sha256).hexdigest()
        let body = Array(#"{"cursor":7,"name":"message.received"}"#.utf8)
        let signature = WebhookSignature.sign(secret: "whsec_0123456789abcdef", timestamp: 1_700_000_000, body: body)
        #expect(signature == "v1=3b0b983ff65835e603cda8f4f16626073b644a0505fcb4451998299e1b3cd8f3")
        let headers = WebhookSignature.headers(id: "default:7", secret: "whsec_0123456789abcdef",
                                               at: UnixTime(milliseconds: 1_700_000_000_999), body: body)
        #expect(headers.map(\.0) == ["Wause-Webhook-Id", "Wause-Webhook-Timestamp", "Wause-Webhook-Signature"])
        #expect(headers[0].1 == "default:7" && headers[1].1 == "1700000000" && headers[2].1 == signature)
        // Another secret, timestamp or body gives another signature.
        #expect(WebhookSignature.sign(secret: "whsec_0123456789abcdeF", timestamp: 1_700_000_000, body: body) != signature)
        #expect(WebhookSignature.sign(secret: "whsec_0123456789abcdef", timestamp: 1_700_000_001, body: body) != signature)
    }

    @Test func backoffDoublesWithJitterAndGivesUpAfter24Hours() {
        let policy = WebhookRetryPolicy.standard
        // Equal jitter: between half and all of 1 s, 2 s, 4 s … capped at 600 s.
        #expect(policy.backoff(attempts: 1, random: 0) == .milliseconds(500))
        #expect(policy.backoff(attempts: 1, random: 1) == .seconds(1))
        #expect(policy.backoff(attempts: 3, random: 0) == .seconds(2))
        #expect(policy.backoff(attempts: 3, random: 0.5) == .seconds(3))
        #expect(policy.backoff(attempts: 40, random: 1) == .seconds(600))
        #expect(policy.backoff(attempts: 40, random: 0) == .seconds(300))

        // An endpoint that answers 500 forever, on virtual time: retried until 24 h after queueing, then failed.
        let queued = UnixTime(milliseconds: 1_763_000_000_000)
        var now = queued
        var attempts = 0
        var waits: [Duration] = []
        while true {
            attempts += 1
            let decision = policy.decide(.answered(status: 500, retryAfter: nil), attempts: attempts, queuedAt: queued, now: now, random: 0.5)
            guard case .retry(let at, let reason) = decision else {
                guard case .failed(let reason) = decision else { Issue.record("500 was delivered"); return }
                #expect(reason.contains("HTTP 500") && reason.contains("24 h"))
                break
            }
            #expect(reason == "HTTP 500")
            waits.append(at - now)
            now = at
        }
        #expect(Array(waits.prefix(4)) == [.milliseconds(750), .milliseconds(1500), .seconds(3), .seconds(6)])
        #expect(waits.allSatisfy { $0 <= .seconds(600) })
        #expect(now <= queued + .seconds(24 * 3600) && now + .seconds(600) > queued + .seconds(24 * 3600))
        #expect(attempts > 100 && attempts < 250)
        // A timeout or a refused connection is retried like a 5xx.
        if case .retry = policy.decide(.unreachable("timeout"), attempts: 1, queuedAt: queued, now: queued, random: 0) {} else {
            Issue.record("a timeout was not retried")
        }
    }

    @Test func statusRules() {
        let policy = WebhookRetryPolicy.standard
        let t = UnixTime(milliseconds: 1_763_000_000_000)
        func decide(_ status: Int) -> WebhookRetryPolicy.Decision {
            policy.decide(.answered(status: status, retryAfter: nil), attempts: 1, queuedAt: t, now: t, random: 0)
        }
        for status in [200, 201, 202, 204, 299] { #expect(decide(status) == .delivered, "\(status)") }
        for status in [408, 429, 500, 502, 503, 504, 599] {
            if case .retry = decide(status) {} else { Issue.record("\(status) not retried") }
        }
        for status in [100, 301, 302, 400, 401, 403, 404, 410, 413, 422] {
            if case .failed(let reason) = decide(status) { #expect(reason.contains("HTTP \(status)")) } else { Issue.record("\(status) not failed") }
        }
    }

    @Test func retryAfterIsHonoured() {
        let policy = WebhookRetryPolicy.standard
        // 2025-11-13T02:13:20Z
        let now = UnixTime(milliseconds: 1_763_000_000_000)
        #expect(policy.decide(.answered(status: 429, retryAfter: "120"), attempts: 1, queuedAt: now, now: now, random: 0.9)
                == .retry(at: now + .seconds(120), reason: "HTTP 429"))
        #expect(policy.decide(.answered(status: 503, retryAfter: "Thu, 13 Nov 2025 02:18:20 GMT"), attempts: 5, queuedAt: now, now: now, random: 0)
                == .retry(at: now + .seconds(300), reason: "HTTP 503"))
        // A date already past means now; nonsense falls back to the backoff.
        #expect(WebhookRetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .zero)
        #expect(WebhookRetryPolicy.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == UnixTime(seconds: 784_111_777))
        #expect(WebhookRetryPolicy.parseRetryAfter("soon", now: now) == nil)
        #expect(policy.decide(.answered(status: 503, retryAfter: "soon"), attempts: 1, queuedAt: now, now: now, random: 0)
                == .retry(at: now + .milliseconds(500), reason: "HTTP 503"))
        // A Retry-After past the 24 h window fails the delivery rather than wait beyond it.
        if case .failed = policy.decide(.answered(status: 503, retryAfter: "90000"), attempts: 1, queuedAt: now, now: now, random: 0) {} else {
            Issue.record("a Retry-After past 24 h was kept")
        }
        // Retry-After on a 4xx that is not retried changes nothing.
        if case .failed = policy.decide(.answered(status: 410, retryAfter: "1"), attempts: 1, queuedAt: now, now: now, random: 0) {} else {
            Issue.record("410 with Retry-After was retried")
        }
    }

    @Test func urlRules() throws {
        for url in ["https://example.com/hook", "https://example.com:8443/a?b=c", "http://127.0.0.1:9000/hook", "http://127.8.0.1/x",
                    "http://localhost:80/", "http://[::1]:9000/hook", "HTTPS://EXAMPLE.COM/"] {
            #expect(throws: Never.self, "\(url)") { try WebhookTarget.checkURL(url) }
        }
        for url in ["http://example.com/hook", "http://10.0.0.1/", "http://192.168.1.2:80/", "http://[::2]/", "ftp://example.com/",
                    "example.com/hook", "https:///path", "https://user:pw@example.com/", "http://127.0.0.1.evil.com/",
                    "https://exa mple.com/", "http://localhost.evil.com/"] {
            do {
                try WebhookTarget.checkURL(url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.code == .invalidRequest, "\(url)")
            }
        }
    }

    @Test func eventFiltersAndConfig() throws {
        #expect(try WebhookTarget.checkEvents(["message.", "message.received", "message."]) == ["message.", "message.received"])
        #expect(throws: WauseError.self) { try WebhookTarget.checkEvents(["mesage."]) }
        #expect(throws: WauseError.self) { try WebhookTarget.checkEvents(["message.recieved"]) }
        #expect(WebhookTarget.matches("message.received", filter: []))
        #expect(WebhookTarget.matches("message.received", filter: ["message."]))
        #expect(!WebhookTarget.matches("group.updated", filter: ["message.", "pairing.qr"]))
        #expect(WebhookTarget.matches("pairing.qr", filter: ["message.", "pairing.qr"]))

        let config = try ClientConfig(json: ["data_dir": "/d", "webhooks": [["url": "https://example.com/h", "events": ["message."],
                                                                              "secret": "0123456789abcdef0123"]]])
        #expect(config.webhooks == [WebhookTarget(url: "https://example.com/h", events: ["message."], secret: "0123456789abcdef0123")])
        let variables = ["WAUSE_WEBHOOKS": #"[{"url": "http://127.0.0.1:1/h", "secret": "0123456789abcdef"}]"#]
        #expect(try ClientConfig(json: ["data_dir": "/d"], variable: { variables[$0] }).webhooks.map(\.url) == ["http://127.0.0.1:1/h"])
        for bad: JSONValue in [[["url": "http://example.com/h", "secret": "0123456789abcdef"]], [["url": "https://example.com/h"]],
                               [["url": "https://example.com/h", "secret": "short"]], "not json",
                               [["url": "https://example.com/h", "secret": "0123456789abcdef", "extra": 1]]] {
            do {
                _ = try ClientConfig(json: ["data_dir": "/d", "webhooks": bad])
                Issue.record("webhooks = \(bad) accepted")
            } catch {
                #expect(error.code == .invalidRequest, "\(bad)")
            }
        }
    }

    /// The worker over a real store: events queued per webhook filter, a 500 retried until a 200, a
    /// 410 failed at once, the same id on every attempt, and a restart resuming from the stored cursor.
    @Test func workerQueuesRetriesAndResumes() async throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let log = try EventLog(store: store, clock: WallClock.now)
        let answers = Mutex<[String: [Int]]>(["https://a.example/h": [500, 200, 200, 200], "https://b.example/h": [410]])
        let seen = Mutex<[(url: String, id: String, signature: String, timestamp: String, body: [UInt8])]>([])
        let http = WebhookHTTP(post: { url, headers, body in
            let value = { (name: String) in headers.first { $0.0 == name }?.1 ?? "" }
            seen.withLock { $0.append((url, value("Wause-Webhook-Id"), value("Wause-Webhook-Signature"), value("Wause-Webhook-Timestamp"), body)) }
            let status = answers.withLock { all in all[url]?.isEmpty == false ? all[url]!.removeFirst() : 200 }
            return (status, nil)
        })
        let environment = Environment(now: WallClock.now, randomBytes: SystemRandom.bytes)
        let fast = WebhookRetryPolicy(initialDelay: .milliseconds(2), maximumDelay: .milliseconds(10), giveUpAfter: .seconds(60))
        try store.insertWebhook(WebhookRecord(id: "wh_a", url: "https://a.example/h", events: ["message."], secret: "secret-a-0123456789",
                                              enabled: true, source: "method", cursor: 0, createdAt: WallClock.now()))
        try store.insertWebhook(WebhookRecord(id: "wh_b", url: "https://b.example/h", events: [], secret: "secret-b-0123456789",
                                              enabled: true, source: "method", cursor: 0, createdAt: WallClock.now()))
        let first = try log.publish(.messageReceived, ["n": 1])
        try log.publish(.groupUpdated, ["n": 2])

        func settled(_ count: Int) async throws -> [WebhookDelivery] {
            let deadline = WallClock.now() + .seconds(20)
            while WallClock.now() < deadline {
                let all = try store.webhookDeliveries(webhookID: nil, status: nil, limit: 100)
                if all.count == count, all.allSatisfy({ $0.status != .pending }) { return all }
                try await Task.sleep(for: .milliseconds(5))
            }
            return try store.webhookDeliveries(webhookID: nil, status: nil, limit: 100)
        }

        let worker = Webhooks(store: store, environment: environment, logger: Logger(label: "t", level: .error), http: http, policy: fast)
        log.addWakeHandler { worker.kick() }
        worker.start()
        let deliveries = try await settled(3)
        worker.stop()
        // wh_a takes message.* only (one delivery, 500 then 200); wh_b takes both and fails each at the 410... once.
        let a = deliveries.filter { $0.webhookID == "wh_a" }
        #expect(a.count == 1 && a[0].status == .delivered && a[0].attempts == 2 && a[0].key == "default:\(first.cursor)")
        let b = deliveries.filter { $0.webhookID == "wh_b" }.sorted { $0.id < $1.id }
        #expect(b.count == 2 && b[0].status == .failed && b[0].lastHTTPStatus == 410 && b[0].attempts == 1)
        #expect(b[1].status == .delivered)
        let posts = seen.withLock { $0 }
        let toA = posts.filter { $0.url == "https://a.example/h" }
        #expect(toA.count == 2 && Set(toA.map(\.id)) == ["default:\(first.cursor)"])
        for post in posts {
            let secret = post.url.contains("a.example") ? "secret-a-0123456789" : "secret-b-0123456789"
            #expect(post.signature == WebhookSignature.sign(secret: secret, timestamp: Int64(post.timestamp) ?? -1, body: post.body))
            let event = try JSONValue.parse(String(decoding: post.body, as: UTF8.self))
            #expect(event.objectValue?["cursor"] != nil && event.objectValue?["name"] != nil)
        }

        // Events logged while no worker runs are queued by the next one, from the stored cursor.
        let third = try log.publish(.messageReceived, ["n": 3])
        let again = Webhooks(store: store, environment: environment, logger: Logger(label: "t", level: .error), http: http, policy: fast)
        again.start()
        let after = try await settled(5)
        again.stop()
        #expect(after.filter { $0.eventCursor == third.cursor }.count == 2 && after.allSatisfy { $0.status != .pending })
        #expect(seen.withLock { $0.count } == posts.count + 2)
    }

    /// Delivered and failed rows go `Webhooks.retention` after they finished, on the injected clock;
    /// a pending one stays however old it is, and a recent finished one stays.
    @Test func finishedDeliveriesArePrunedAfterTheRetention() async throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let clock = Mutex(UnixTime(milliseconds: 1_800_000_000_000))
        let now: @Sendable () -> UnixTime = { clock.withLock { $0 } }
        let log = try EventLog(store: store, clock: now)
        // By event: 200 (delivered), 410 (failed), no answer (pending while the test runs), 200.
        let http = WebhookHTTP(post: { _, _, body in
            let n = (try? JSONValue.parse(String(decoding: body, as: UTF8.self)))?["data"]?["n"]?.intValue
            switch n {
            case 2: return (410, nil)
            case 3:
                try await Task.sleep(for: .seconds(3600))
                return (200, nil)
            default: return (200, nil)
            }
        })
        try store.insertWebhook(WebhookRecord(id: "wh_a", url: "https://a.example/h", events: [], secret: "secret-a-0123456789",
                                              enabled: true, source: "method", cursor: 0, createdAt: now()))
        let worker = Webhooks(store: store, environment: Environment(now: now, randomBytes: SystemRandom.bytes),
                              logger: Logger(label: "t", level: .error), http: http)
        log.addWakeHandler { worker.kick() }
        defer { worker.stop() }

        func rows(until done: ([WebhookDelivery]) -> Bool) async throws -> [Int64: WebhookDelivery.Status] {
            let deadline = WallClock.now() + .seconds(20)
            var all: [WebhookDelivery] = []
            while WallClock.now() < deadline {
                all = try store.webhookDeliveries(webhookID: nil, status: nil, limit: 100)
                if done(all) { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            return Dictionary(uniqueKeysWithValues: all.map { ($0.eventCursor ?? -1, $0.status) })
        }

        let events = try (1...3).map { n in try log.publish(.messageReceived, ["n": .int(Int64(n))]) }
        worker.start()
        var seen = try await rows { $0.filter { $0.status != .pending }.count == 2 }
        #expect(seen == [events[0].cursor: .delivered, events[1].cursor: .failed, events[2].cursor: .pending])

        // Six days on, a fourth event is delivered; nothing is old enough to go yet.
        clock.withLock { $0 += .seconds(6 * 24 * 3600) }
        let fourth = try log.publish(.messageReceived, ["n": 4])
        seen = try await rows { $0.count == 4 && $0.filter { $0.status == .delivered }.count == 2 }
        #expect(seen.count == 4 && seen[fourth.cursor] == .delivered)

        // Seven days and a minute after the first two finished: they go at the next prune (an
        // hour after the last one, on the same clock); the pending one and the recent one stay.
        clock.withLock { $0 += .seconds(24 * 3600 + 60) }
        worker.kick()
        seen = try await rows { $0.count == 2 }
        #expect(seen == [events[2].cursor: .pending, fourth.cursor: .delivered])
    }

    /// An endpoint that never answers holds at most `perWebhook` slots: another webhook's events
    /// keep flowing past its backlog.
    @Test func aHangingEndpointDoesNotHoldUpAnotherWebhook() async throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let log = try EventLog(store: store, clock: WallClock.now)
        let hanging = Mutex((now: 0, most: 0))
        let http = WebhookHTTP(post: { url, _, _ in
            guard url.contains("slow") else { return (204, nil) }
            hanging.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            defer { hanging.withLock { $0.now -= 1 } }
            try await Task.sleep(for: .seconds(3600))
            return (200, nil)
        })
        for (id, url) in [("wh_slow", "https://slow.example/h"), ("wh_fast", "https://fast.example/h")] {
            try store.insertWebhook(WebhookRecord(id: id, url: url, events: [], secret: "secret-0123456789abcdef", enabled: true,
                                                  source: "method", cursor: 0, createdAt: WallClock.now()))
        }
        for n in 0..<20 { try log.publish(.messageReceived, ["n": .int(Int64(n))]) }
        let worker = Webhooks(store: store, environment: Environment(now: WallClock.now, randomBytes: SystemRandom.bytes),
                              logger: Logger(label: "t", level: .error), http: http)
        log.addWakeHandler { worker.kick() }
        worker.start()
        let deadline = WallClock.now() + .seconds(20)
        var delivered = 0
        while WallClock.now() < deadline {
            delivered = try store.webhookDeliveries(webhookID: "wh_fast", status: .delivered, limit: 100).count
            if delivered == 20 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        worker.stop()
        #expect(delivered == 20)
        #expect(hanging.withLock { $0.most } == Webhooks.perWebhook)
        // The slow endpoint's deliveries are all still pending (none counted as tried: they were cut off).
        let slow = try store.webhookDeliveries(webhookID: "wh_slow", status: nil, limit: 100)
        #expect(slow.count == 20 && slow.allSatisfy { $0.status == .pending && $0.attempts == 0 })
    }

    /// The store side: a disabled webhook queues nothing (its cursor moves on), and the `webhooks`
    /// config key is what the store's `config` webhooks become at each open.
    @Test func disabledWebhooksQueueNothingAndConfigWebhooksFollowTheConfig() throws {
        let temp = TemporaryDirectory()
        let store = try Store(directory: temp.path)
        defer { store.close() }
        let log = try EventLog(store: store, clock: WallClock.now)
        let now = WallClock.now()
        try store.insertWebhook(WebhookRecord(id: "wh_m", url: "https://m.example/h", events: [], secret: "secret-0123456789abcdef",
                                              enabled: true, source: "method", cursor: 0, createdAt: now))
        _ = try store.updateWebhook(id: "wh_m", events: nil, enabled: false)
        let paused = try log.publish(.messageReceived, ["n": 1])
        #expect(try store.queueWebhookDeliveries(webhook: try #require(try store.webhook(id: "wh_m")), account: "default", limit: 10, now: now) == 1)
        #expect(try store.webhookDeliveries(webhookID: "wh_m", status: nil, limit: 10).isEmpty)
        #expect(try store.webhook(id: "wh_m")?.cursor == paused.cursor)
        _ = try store.updateWebhook(id: "wh_m", events: ["message."], enabled: true)
        let resumed = try log.publish(.messageReceived, ["n": 2])
        _ = try store.queueWebhookDeliveries(webhook: try #require(try store.webhook(id: "wh_m")), account: "default", limit: 10, now: now)
        #expect(try store.webhookDeliveries(webhookID: "wh_m", status: nil, limit: 10).map(\.key) == ["default:\(resumed.cursor)"])

        var ids = ["wh_c1", "wh_c2", "wh_c3"].makeIterator()
        let one = WebhookTarget(url: "https://one.example/h", events: [], secret: "one-secret-0123456789")
        let two = WebhookTarget(url: "https://two.example/h", events: ["group."], secret: "two-secret-0123456789")
        try store.syncConfigWebhooks([one, two], cursor: 5, now: now, newID: { ids.next()! })
        func configured() throws -> [String: WebhookRecord] {
            Dictionary(uniqueKeysWithValues: try store.webhooks().filter { $0.source == "config" }.map { ($0.url, $0) })
        }
        #expect(try configured().mapValues(\.id) == [one.url: "wh_c1", two.url: "wh_c2"])
        #expect(try configured()[two.url]?.cursor == 5)
        // The next open: one changed, two gone, three new; the method's webhook is left alone.
        let changed = WebhookTarget(url: one.url, events: ["message."], secret: "new-secret-0123456789")
        let three = WebhookTarget(url: "https://three.example/h", events: [], secret: "three-secret-0123456789")
        try store.syncConfigWebhooks([changed, three], cursor: 9, now: now, newID: { ids.next()! })
        let after = try configured()
        #expect(after.mapValues(\.id) == [one.url: "wh_c1", three.url: "wh_c3"])
        #expect(after[one.url]?.secret == changed.secret && after[one.url]?.events == ["message."] && after[one.url]?.cursor == 5)
        #expect(try store.webhook(id: "wh_m") != nil)
        try store.syncConfigWebhooks([], cursor: 9, now: now, newID: { ids.next()! })
        #expect(try configured().isEmpty && store.webhooks().map(\.id) == ["wh_m"])
    }
}
