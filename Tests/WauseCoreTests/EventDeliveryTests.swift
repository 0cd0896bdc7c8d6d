import Testing
@testable import WauseCore
import WauseTestSupport
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct EventDeliveryTests {
    func makeClient(_ temp: TemporaryDirectory, _ clock: TestClock = TestClock()) throws -> WauseClient {
        try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment(clock))
    }

    @Test func eventsAreLoggedBeforeFollowersSeeThem() throws {
        let temp = TemporaryDirectory()
        let clock = TestClock(1_700_000_000_000)
        let client = try makeClient(temp, clock)
        defer { client.close() }
        let follower = client.events.follow(after: client.events.latestCursor)
        let published = try client.events.publish(.accountConnected, ["reason": "test"])
        let seen = try follower.next(timeoutMilliseconds: 1000)
        #expect(seen == published)
        #expect(try client.store.events(after: 0, limit: 10) == [published])
        #expect(seen?.json["ts"] == .string("2023-11-14T22:13:20.000Z"))
        #expect(try follower.next(timeoutMilliseconds: 0) == nil)
    }

    @Test func aFollowerBlockedOnAnotherThreadWakesForANewEvent() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let follower = client.events.follow(after: 0)
        let result = BlockingResult<Event?>()
        let thread = TestThread { result.set(try? follower.next(timeoutMilliseconds: -1)) }
        let event = try client.events.publish(.messageReceived, ["id": "X"])
        #expect(result.wait() == event)
        thread.join()
    }

    @Test func cancellingWakesABlockedFollower() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let follower = client.events.follow(after: 0)
        let result = BlockingResult<Event?>()
        let thread = TestThread { result.set(try? follower.next(timeoutMilliseconds: -1)) }
        follower.cancel()
        #expect(result.wait() == nil)
        thread.join()
    }

    @Test func replayPagesThroughTheLog() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        for index in 0..<5 { try client.events.publish(.messageReceived, ["n": .int(Int64(index))]) }
        let page = try client.replayEvents(after: 0, limit: 2)
        #expect(page["events"]?.arrayValue?.count == 2)
        #expect(page["has_more"] == .bool(true))
        let next = page["next_cursor"]!.intValue!
        let rest = try client.replayEvents(after: next, limit: 10)
        #expect(rest["events"]?.arrayValue?.compactMap { $0["data"]?["n"]?.intValue } == [2, 3, 4])
        #expect(rest["has_more"] == .bool(false))
        let end = try client.replayEvents(after: rest["next_cursor"]!.intValue!, limit: 10)
        #expect(end["events"] == .array([]))
        #expect(end["next_cursor"] == rest["next_cursor"])
        #expect(throws: WauseError.self) { try client.replayEvents(after: 0, limit: 0) }
        #expect(throws: WauseError.self) { try client.replayEvents(after: 0, limit: 1001) }
        #expect(throws: WauseError.self) { try client.replayEvents(after: -1, limit: 10) }
    }

    @Test func deliveryInterleavesAnswersAndEventsAndStartsAfterItsCursor() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        try client.events.publish(.accountConnected, [:])  // before the delivery existed: not delivered
        let delivery = Delivery(events: client.events, after: client.events.latestCursor)
        defer { delivery.close() }
        #expect(delivery.receive(timeoutMilliseconds: 0) == nil)
        delivery.post(answer: ["request_id": 1, "result": [:]])
        let event = try client.events.publish(.accountDisconnected, [:])
        // The answer came first, so it goes out first.
        #expect(delivery.receive(timeoutMilliseconds: 100)?["request_id"] == .int(1))
        #expect(delivery.receive(timeoutMilliseconds: 100)?["cursor"] == .int(event.cursor))
        #expect(delivery.receive(timeoutMilliseconds: 0) == nil)
    }

    @Test func itemsComeOutInTheOrderTheyHappened() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let delivery = Delivery(events: client.events, after: client.events.latestCursor)
        defer { delivery.close() }
        let first = try client.events.publish(.accountConnected, [:])
        delivery.post(answer: ["request_id": 1, "result": [:]])
        let second = try client.events.publish(.accountDisconnected, [:])
        #expect(delivery.receive(timeoutMilliseconds: 100)?["cursor"] == .int(first.cursor))
        #expect(delivery.receive(timeoutMilliseconds: 100)?["request_id"] == .int(1))
        #expect(delivery.receive(timeoutMilliseconds: 100)?["cursor"] == .int(second.cursor))
    }

    @Test func receiveWaitsForAnEventPublishedLater() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let delivery = Delivery(events: client.events, after: client.events.latestCursor)
        defer { delivery.close() }
        let result = BlockingResult<JSONValue?>()
        let thread = TestThread { result.set(delivery.receive(timeoutMilliseconds: -1)) }
        let event = try client.events.publish(.pairingCode, ["code": "ABCD-EFGH"])
        #expect(result.wait()?["cursor"] == .int(event.cursor))
        thread.join()
    }

    @Test func closeWakesABlockedReceive() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let delivery = Delivery(events: client.events, after: 0)
        let result = BlockingResult<JSONValue?>()
        let thread = TestThread { result.set(delivery.receive(timeoutMilliseconds: -1)) }
        delivery.close()
        #expect(result.wait() == nil)
        thread.join()
    }

    @Test func aCallbackTakesEveryItemInOrderOnItsOwnThreadAndCanBeCleared() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let delivery = Delivery(events: client.events, after: client.events.latestCursor)
        defer { delivery.close() }
        let collected = Collector()
        let callerThread = pthread_self()
        try delivery.setCallback { item in collected.add(item, onCaller: pthread_equal(pthread_self(), callerThread) != 0) }
        #expect(delivery.receive(timeoutMilliseconds: 0) == nil)  // items go to the callback
        delivery.post(answer: ["request_id": 9, "result": [:]])
        var cursors: [Int64] = []
        for _ in 0..<3 { cursors.append(try client.events.publish(.messageReceived, [:]).cursor) }
        let items = collected.wait(for: 4)
        #expect(items[0]["request_id"] == .int(9))
        #expect(items.dropFirst().compactMap { $0["cursor"]?.intValue } == cursors)
        #expect(!collected.anyOnCaller)
        try delivery.setCallback(nil)
        let after = try client.events.publish(.messageReceived, [:])
        #expect(delivery.receive(timeoutMilliseconds: 1000)?["cursor"] == .int(after.cursor))
        #expect(collected.count == 4)
    }

    @Test func theCallbackCannotReplaceItselfFromInside() throws {
        let temp = TemporaryDirectory()
        let client = try makeClient(temp)
        defer { client.close() }
        let delivery = Delivery(events: client.events, after: 0)
        defer { delivery.close() }
        let outcome = BlockingResult<WauseError?>()
        try delivery.setCallback { _ in
            do throws(WauseError) { try delivery.setCallback(nil); outcome.set(nil) } catch { outcome.set(error) }
        }
        delivery.post(answer: ["request_id": 1, "result": [:]])
        #expect(outcome.wait()?.code == .invalidRequest)
    }
}

/// Collects callback items; `wait(for:)` blocks until that many arrived.
final class Collector: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [JSONValue] = []
    private(set) var anyOnCaller = false

    func add(_ item: JSONValue, onCaller: Bool) {
        lock.withLock {
            items.append(item)
            anyOnCaller = anyOnCaller || onCaller
            lock.broadcast()
        }
    }

    func wait(for count: Int) -> [JSONValue] {
        lock.withLock {
            _ = lock.wait(until: MonotonicClock.deadline(afterMilliseconds: 10_000)) { items.count >= count }
            return items
        }
    }

    var count: Int { lock.withLock { items.count } }
}
