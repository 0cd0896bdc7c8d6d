import Synchronization
import WauseSupport
import WauseTransport

/// Signed webhooks' worker (issue 16 "Signed webhooks"): follows the event log, queues one delivery
/// row per webhook and event in the store (the webhook's cursor moves in the same transaction, so a
/// crash or restart resumes from it and loses nothing), and POSTs due deliveries, at most
/// `concurrency` at once, each retried on its own schedule (`WebhookRetryPolicy`) so a failing
/// endpoint or event never holds up another. The event log only wakes it (a wake handler resumes a
/// continuation), so the receive path never waits on an endpoint.
final class Webhooks: Sendable {
    /// Deliveries in flight at once, over every webhook.
    static let concurrency = 8
    /// Deliveries in flight at once to one webhook: an endpoint that holds every request until it
    /// times out takes half the slots at most, so the other webhooks keep theirs.
    static let perWebhook = 4
    /// Events read from the log per transaction when queueing.
    static let fillBatch = 256
    /// How the `Wause-Webhook-Id` names this engine's account: one account per store today, so
    /// the fixed id `default` (stable across re-linking, unlike the phone number); with many
    /// accounts per engine it becomes the account's id.
    static let singleAccount = "default"
    /// How long a delivered or failed delivery row is kept (for `whatsapp_list_webhook_deliveries`)
    /// after it finished; pending rows stay until they finish, however long that is.
    static let retention: Duration = .seconds(7 * 24 * 3600)
    /// How often the worker prunes what passed `retention`.
    static let pruneInterval: Duration = .seconds(3600)

    private let store: Store
    private let environment: Environment
    private let logger: Logger
    private let http: WebhookHTTP
    private let policy: WebhookRetryPolicy
    let account: String

    private struct State {
        var worker: Task<Void, Never>?
        /// Attempts in flight by delivery id, with their webhook.
        var attempts: [Int64: (webhook: String, task: Task<Void, Never>)] = [:]
        var stopped = false
        var kicked = false
        /// Which webhook is asked first in the next round.
        var round = 0
        var waiter: CheckedContinuation<Void, Never>?
        /// When the next prune is due (nil: at the first round).
        var nextPrune: UnixTime?
    }
    private let state = Mutex(State())

    init(store: Store, environment: Environment, logger: Logger, http: WebhookHTTP, policy: WebhookRetryPolicy = .standard,
         account: String = Webhooks.singleAccount) {
        self.store = store
        self.environment = environment
        self.logger = logger
        self.http = http
        self.policy = policy
        self.account = account
    }

    /// Makes the `config` webhooks match the configuration (new ones start after the newest event).
    func applyConfig(_ targets: [WebhookTarget], latestCursor: Int64) throws(WauseError) {
        let random = environment.randomBytes
        try store.syncConfigWebhooks(targets, cursor: latestCursor, now: environment.now(), newID: { WebhookTarget.newID(random: random) })
    }

    /// Starts the worker (once; never after `stop`).
    func start() {
        state.withLock { state in
            guard state.worker == nil, !state.stopped else { return }
            state.worker = Task { await self.run() }
        }
    }

    /// Something changed (a new event, a new webhook or test, an attempt finished): look again.
    func kick() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else { state.kicked = true; return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Stops the worker and every attempt in flight, then shuts the HTTP client down (its
    /// connections close); an interrupted delivery stays pending and goes at the next start
    /// (at-least-once: the endpoint may see it twice, with the same id).
    func stop() {
        let (tasks, first) = state.withLock { state -> ([Task<Void, Never>], Bool) in
            defer { state.stopped = true; state.attempts.removeAll(); state.worker = nil }
            return (state.attempts.values.map(\.task) + (state.worker.map { [$0] } ?? []), !state.stopped)
        }
        for task in tasks { task.cancel() }
        kick()
        if first { http.shutdown() }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func run() async {
        while !Task.isCancelled, !isStopped {
            var wait: Duration = .seconds(3600)
            do {
                try fill()
                let now = environment.now()
                try dispatchDue(now: now)
                let busy = state.withLock { Set($0.attempts.keys) }
                // One due at `now` and still not started waits on a full bound: the attempt that
                // frees a slot kicks. A later one is slept for.
                if let next = try store.nextWebhookAttempt(excluding: busy), next > now {
                    wait = max(.zero, next - environment.now())
                }
                wait = min(wait, max(.zero, try prune(now: now) - now))
            } catch {
                if isStopped { return }
                logger.warning("webhooks: \(error.message)")
                wait = .seconds(5)
            }
            await waitForKick(atMost: wait)
        }
    }

    /// Queues every webhook's new events.
    private func fill() throws(WauseError) {
        for webhook in try store.webhooks() {
            var current = webhook
            while try store.queueWebhookDeliveries(webhook: current, account: account, limit: Webhooks.fillBatch,
                                                   now: environment.now()) == Webhooks.fillBatch {
                guard let reread = try store.webhook(id: webhook.id) else { break }
                current = reread
            }
        }
    }

    /// Deletes finished deliveries older than `retention` when a prune is due; answers when the
    /// next one is.
    private func prune(now: UnixTime) throws(WauseError) -> UnixTime {
        if let due = state.withLock({ $0.nextPrune }), due > now { return due }
        let removed = try store.pruneWebhookDeliveries(finishedBefore: now - Webhooks.retention)
        if removed > 0 { logger.info("webhooks: pruned \(removed) finished deliveries older than 7 days") }
        let next = now + Webhooks.pruneInterval
        state.withLock { $0.nextPrune = next }
        return next
    }

    /// Starts attempts for due deliveries, up to the concurrency bounds (overall and per webhook),
    /// asking each webhook in turn — from a different one each round — so that no webhook's backlog
    /// stands in front of another's.
    private func dispatchDue(now: UnixTime) throws(WauseError) {
        let webhooks = try store.webhooks().filter(\.enabled)
        guard !webhooks.isEmpty else { return }
        let first = state.withLock { state -> Int in
            state.round = (state.round + 1) % 1_000_000
            return state.round % webhooks.count
        }
        for index in 0..<webhooks.count {
            let webhook = webhooks[(first + index) % webhooks.count]
            let (busy, room) = state.withLock { state -> (Set<Int64>, Int) in
                let mine = state.attempts.values.filter { $0.webhook == webhook.id }.count
                return (Set(state.attempts.keys), min(Webhooks.concurrency - state.attempts.count, Webhooks.perWebhook - mine))
            }
            if Webhooks.concurrency - busy.count <= 0 { return }
            for delivery in try store.dueWebhookDeliveries(webhookID: webhook.id, now: now, excluding: busy, limit: room) {
                state.withLock { state in
                    guard !state.stopped else { return }
                    state.attempts[delivery.id] = (webhook.id, Task {
                        await self.attempt(delivery, url: webhook.url, secret: webhook.secret)
                        self.state.withLock { _ = $0.attempts.removeValue(forKey: delivery.id) }
                        self.kick()
                    })
                }
            }
        }
    }

    /// One POST and what it leads to, recorded before the slot is given back.
    func attempt(_ delivery: WebhookDelivery, url: String, secret: String) async {
        let body = Array(delivery.body.utf8)
        let headers = WebhookSignature.headers(id: delivery.key, secret: secret, at: environment.now(), body: body)
        let outcome: WebhookRetryPolicy.Outcome
        do {
            let answer = try await http.post(url, headers, body)
            outcome = .answered(status: answer.status, retryAfter: answer.retryAfter)
        } catch {
            outcome = .unreachable(WebhookHTTP.describe(error))
        }
        // Stopped mid-attempt: leave it pending for the next start rather than count it.
        if Task.isCancelled || isStopped { return }
        let now = environment.now()
        let decision = policy.decide(outcome, attempts: delivery.attempts + 1, queuedAt: delivery.createdAt, now: now, random: draw())
        var httpStatus: Int?
        if case .answered(let status, _) = outcome { httpStatus = status }
        do {
            switch decision {
            case .delivered:
                try store.finishWebhookAttempt(id: delivery.id, status: .delivered, nextAttemptAt: nil, httpStatus: httpStatus, error: nil, now: now)
            case .retry(let at, let reason):
                logger.info("webhook \(delivery.webhookID) delivery \(delivery.key): \(reason); retry at \(at.iso8601)")
                try store.finishWebhookAttempt(id: delivery.id, status: .pending, nextAttemptAt: at, httpStatus: httpStatus, error: reason, now: now)
            case .failed(let reason):
                logger.warning("webhook \(delivery.webhookID) delivery \(delivery.key) failed: \(reason)")
                try store.finishWebhookAttempt(id: delivery.id, status: .failed, nextAttemptAt: nil, httpStatus: httpStatus, error: reason, now: now)
            }
        } catch {
            if !isStopped { logger.warning("webhooks: cannot record delivery \(delivery.key): \(error.message)") }
        }
    }

    /// A draw in [0, 1) from the injected randomness, for the jitter.
    private func draw() -> Double {
        let bytes = environment.randomBytes(8)
        let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(value >> 11) / Double(UInt64(1) << 53)
    }

    /// Returns at the next `kick`, after `duration` on the injected sleep, or when stopped.
    private func waitForKick(atMost duration: Duration) async {
        if state.withLock({ state in defer { state.kicked = false }; return state.kicked || state.stopped }) { return }
        let sleep = environment.sleep
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.kicked() }
            group.addTask { try? await sleep(duration) }
            await group.next()
            group.cancelAll()
        }
    }

    private func kicked() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.kicked || state.stopped || Task.isCancelled { state.kicked = false; return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state -> CheckedContinuation<Void, Never>? in defer { state.waiter = nil }; return state.waiter }?.resume()
        }
    }
}
