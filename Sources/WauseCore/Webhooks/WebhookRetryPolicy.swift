import WauseSupport

/// What happens after one webhook attempt (issue 16 "Signed webhooks"): a 2xx acknowledges;
/// timeouts, connection errors, 5xx, 408 and 429 are retried with exponential backoff and jitter
/// (or after `Retry-After` when the endpoint says so) until 24 h after the event was queued, then
/// the delivery is `failed`; every other status (3xx — redirects are not followed — and 4xx) fails
/// at once. Pure: the clock and the random draw come in, so tests run it on virtual time.
struct WebhookRetryPolicy: Sendable {
    /// The first retry's delay before jitter; each later one doubles it.
    var initialDelay: Duration = .seconds(1)
    /// No wait between attempts grows past this.
    var maximumDelay: Duration = .seconds(600)
    /// How long after it was queued a delivery is still tried.
    var giveUpAfter: Duration = .seconds(24 * 3600)

    static let standard = WebhookRetryPolicy()

    /// How one attempt ended.
    enum Outcome: Sendable, Equatable {
        /// The endpoint answered with this status (and maybe a `Retry-After` header).
        case answered(status: Int, retryAfter: String?)
        /// No answer: a timeout, a refused or dropped connection, a TLS failure.
        case unreachable(String)
    }

    enum Decision: Sendable, Equatable {
        case delivered
        case retry(at: UnixTime, reason: String)
        case failed(reason: String)
    }

    /// `attempts` counts this one (1 after the first attempt); `queuedAt` starts the 24 h;
    /// `random` is a draw in [0, 1) for the jitter.
    func decide(_ outcome: Outcome, attempts: Int, queuedAt: UnixTime, now: UnixTime, random: Double) -> Decision {
        let reason: String
        var retryAfter: Duration?
        switch outcome {
        case .answered(let status, let header):
            if (200..<300).contains(status) { return .delivered }
            guard status >= 500 || status == 408 || status == 429 else {
                return .failed(reason: "HTTP \(status): not retried (only timeouts, connection errors, 5xx, 408 and 429 are)")
            }
            reason = "HTTP \(status)"
            retryAfter = header.flatMap { WebhookRetryPolicy.parseRetryAfter($0, now: now) }
        case .unreachable(let why):
            reason = why
        }
        let deadline = queuedAt + giveUpAfter
        let wait = retryAfter ?? backoff(attempts: attempts, random: random)
        let next = now + wait
        guard next <= deadline else { return .failed(reason: "\(reason); gave up \(giveUpAfter.wholeSeconds / 3600) h after the event") }
        return .retry(at: next, reason: reason)
    }

    /// Exponential backoff with "equal jitter": half the doubled delay for sure, the other half drawn,
    /// so retries from many deliveries that failed together spread out but never come back at once.
    func backoff(attempts: Int, random: Double) -> Duration {
        let doublings = min(max(attempts - 1, 0), 30)
        let full = min(initialDelay.milliseconds << Int64(doublings), maximumDelay.milliseconds)
        let jitter = Int64(Double(full / 2) * min(max(random, 0), 1))
        return .milliseconds(full - full / 2 + jitter)
    }

    /// `Retry-After` (RFC 9110 10.2.3): delay-seconds or an HTTP-date (IMF-fixdate,
    /// `Sun, 06 Nov 1994 08:49:37 GMT`). Nil for anything else; a date in the past is zero.
    static func parseRetryAfter(_ text: String, now: UnixTime) -> Duration? {
        let value = text.trimmingCharacters(in: " \t")
        if !value.isEmpty, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let seconds = Int64(value) else { return nil }
            return .seconds(min(seconds, 7 * 24 * 3600))
        }
        guard let date = parseHTTPDate(value) else { return nil }
        return date > now ? date - now : .zero
    }

    /// IMF-fixdate only (what RFC 9110 says senders must produce).
    static func parseHTTPDate(_ text: String) -> UnixTime? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = Int64(parts[1]), let year = Int64(parts[3]),
              let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Int64(clock[0]), let minute = Int64(clock[1]), let second = Int64(clock[2]),
              (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = daysFromCivil(year: year, month: Int64(month + 1), day: day)
        return UnixTime(seconds: days * 86400 + hour * 3600 + minute * 60 + second)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}
