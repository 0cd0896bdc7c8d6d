import WauseSupport

/// Where a webhook posts and what it is sent: the URL rules, the event filter and the secret
/// (issue 16 "Signed webhooks"). `http://` reaches only this machine's loopback, so an event with
/// message text never crosses a network in clear; `https://` goes anywhere (TLS verified).
struct WebhookTarget: Sendable, Equatable {
    var url: String
    /// Event names or prefixes ending in "." (`message.`); empty means every event.
    var events: [String]
    var secret: String

    static let maximumURLLength = 2048
    static let minimumSecretLength = 16
    static let maximumSecretLength = 256
    /// Sent by `whatsapp_test_webhook` whatever the filter says.
    static let testEvent = "webhook.test"

    /// Checks a URL against the rules; the error says which one it broke.
    static func checkURL(_ url: String) throws(WauseError) {
        let details: JSONObject = ["url": .string(url)]
        guard url.utf8.count <= maximumURLLength, !url.contains(where: { $0 == " " || $0.isNewline || $0 == "\t" }) else {
            throw .invalidRequest("webhook url must be at most \(maximumURLLength) bytes without spaces", details: details)
        }
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else {
            throw .invalidRequest("webhook url must start with https:// (or http:// to a loopback address)", details: details)
        }
        let rest = url.dropFirst(scheme.count + 3)
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        guard !authority.contains("@") else {
            throw .invalidRequest("webhook url must not carry credentials (user@host); sign with the secret instead", details: details)
        }
        let host = hostPart(String(authority)).lowercased()
        guard !host.isEmpty else { throw .invalidRequest("webhook url has no host", details: details) }
        if scheme == "http", !isLoopback(host) {
            throw .invalidRequest("http:// webhooks may only reach loopback (127.0.0.0/8, ::1, localhost); use https:// for \(host)",
                                  details: details)
        }
    }

    /// The host of `host[:port]`, `[v6]:port` without its brackets.
    static func hostPart(_ authority: String) -> String {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "" }
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.prefix(while: { $0 != ":" }))
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }

    /// Checks and normalises an event filter: each entry is a known event name or a prefix ending
    /// in "." that some event name starts with (so a typo is an error, not a silent filter).
    static func checkEvents(_ names: [String]) throws(WauseError) -> [String] {
        let known = EventName.allCases.map(\.rawValue) + [testEvent]
        var result: [String] = []
        for name in names {
            let valid = name.hasSuffix(".") ? known.contains(where: { $0.hasPrefix(name) }) : known.contains(name)
            guard valid else {
                throw .invalidRequest("unknown event '\(name)': give event names or prefixes ending in '.' (e.g. message.); known: "
                                      + known.joined(separator: ", "), details: ["event": .string(name)])
            }
            if !result.contains(name) { result.append(name) }
        }
        return result
    }

    static func checkSecret(_ secret: String) throws(WauseError) {
        guard (minimumSecretLength...maximumSecretLength).contains(secret.utf8.count) else {
            throw .invalidRequest("webhook secret must be \(minimumSecretLength) to \(maximumSecretLength) bytes")
        }
    }

    /// 32 random bytes as hex, prefixed so a leaked one is recognisable in a scan.
    static func newSecret(random: (Int) -> [UInt8]) -> String { "whsec_" + WebhookSignature.hex(random(32)) }

    static func newID(random: (Int) -> [UInt8]) -> String { "wh_" + WebhookSignature.hex(random(6)) }

    /// Whether an event goes to a webhook with this filter.
    static func matches(_ event: String, filter: [String]) -> Bool {
        filter.isEmpty || filter.contains { $0.hasSuffix(".") ? event.hasPrefix($0) : event == $0 }
    }

    /// The config key `webhooks`: a JSON array of `{url, events?, secret}` (text form for flags and
    /// the environment). Library users have no tool call to see a generated secret, so it is required.
    static func parseConfig(_ value: JSONValue) throws(WauseError) -> [WebhookTarget] {
        let details: JSONObject = ["key": "webhooks"]
        guard let entries = value.arrayValue else {
            throw .invalidRequest("config key 'webhooks' must be a JSON array of {url, events?, secret}", details: details)
        }
        var targets: [WebhookTarget] = []
        for entry in entries {
            guard let object = entry.objectValue, let url = object["url"]?.stringValue, let secret = object["secret"]?.stringValue else {
                throw .invalidRequest("each entry of config key 'webhooks' needs url and secret (strings)", details: details)
            }
            for key in object.keys where !["url", "events", "secret"].contains(key) {
                throw .invalidRequest("unknown field '\(key)' in config key 'webhooks' (url, events, secret)", details: details)
            }
            try checkURL(url)
            try checkSecret(secret)
            var events: [String] = []
            if let list = object["events"], !list.isNull {
                guard let array = list.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
                    throw .invalidRequest("events in config key 'webhooks' must be an array of strings", details: details)
                }
                events = try checkEvents(array.compactMap(\.stringValue))
            }
            guard !targets.contains(where: { $0.url == url }) else {
                throw .invalidRequest("config key 'webhooks' names \(url) twice", details: details)
            }
            targets.append(WebhookTarget(url: url, events: events, secret: secret))
        }
        return targets
    }
}
