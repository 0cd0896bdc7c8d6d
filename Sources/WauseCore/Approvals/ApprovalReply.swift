/// What a reply to an approval request says (issue 14 "Approval requests" and "Definitions"): the
/// whole reply, trimmed, is one decision word or emoji, optionally with a request id before or
/// after it (`APPROVE ABC123`, `ABC123 yes`). Anything else is an ordinary message, not an answer.
struct ApprovalReply: Equatable, Sendable {
    enum Decision: String, Sendable { case approved, denied }

    let decision: Decision
    /// The request id the reply names, upper-cased, if it names one.
    let requestID: String?

    static let approveWords: Set<String> = ["APPROVE", "APPROVED", "YES", "Y", "OK", "✅", "👍"]
    static let denyWords: Set<String> = ["DENY", "DENIED", "NO", "N", "❌", "👎"]

    /// Request ids: 6 characters of A–Z and 2–9 (no 0 or 1, which read as O and I).
    static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ23456789")
    static let idLength = 6

    /// Whether a word is in the shape of a request id. Any 6 ASCII letters or digits are read as
    /// one (the issue's own example is `ABC123`); an id we never issued then matches nothing.
    static func isRequestID(_ text: String) -> Bool {
        text.unicodeScalars.count == idLength && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    /// A new request id from `random` bytes (rejection sampling keeps the letters uniform).
    static func newID(random: (Int) -> [UInt8]) -> String {
        var id = ""
        while id.count < idLength {
            for byte in random(16) where id.count < idLength && Int(byte) < 256 - 256 % idAlphabet.count {
                id.append(idAlphabet[Int(byte) % idAlphabet.count])
            }
        }
        return id
    }

    /// The decision an emoji or word means; skin-tone modifiers and the emoji presentation
    /// selector are dropped first, so 👍🏽 and ✅︎ count as 👍 and ✅.
    static func decision(_ word: String) -> Decision? {
        let plain = String(String.UnicodeScalarView(word.unicodeScalars.filter {
            !(0x1F3FB...0x1F3FF).contains($0.value) && $0.value != 0xFE0F && $0.value != 0xFE0E
        })).uppercased()
        if approveWords.contains(plain) { return .approved }
        if denyWords.contains(plain) { return .denied }
        return nil
    }

    /// Parses a text reply; nil when it is not an answer.
    init?(text: String) {
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).map(String.init)
        switch words.count {
        case 1:
            guard let decision = ApprovalReply.decision(words[0]) else { return nil }
            self.init(decision: decision, requestID: nil)
        case 2:
            if let decision = ApprovalReply.decision(words[0]), ApprovalReply.isRequestID(words[1]) {
                self.init(decision: decision, requestID: words[1].uppercased())
            } else if ApprovalReply.isRequestID(words[0]), let decision = ApprovalReply.decision(words[1]) {
                self.init(decision: decision, requestID: words[0].uppercased())
            } else {
                return nil
            }
        default:
            return nil
        }
    }

    init(decision: Decision, requestID: String?) {
        self.decision = decision
        self.requestID = requestID
    }
}
