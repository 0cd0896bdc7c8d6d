import WauseCrypto
import WauseSupport

/// The signing scheme of every webhook POST (issue 16 "Signed webhooks"; README "Webhooks"):
/// `Wause-Webhook-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, with the
/// timestamp (unix seconds) sent beside it in `Wause-Webhook-Timestamp`, so a receiver can refuse
/// a replayed request that is too old. The secret is used as its UTF-8 bytes, as a receiver holding
/// the string would use it.
enum WebhookSignature {
    static let idHeader = "Wause-Webhook-Id"
    static let timestampHeader = "Wause-Webhook-Timestamp"
    static let signatureHeader = "Wause-Webhook-Signature"

    /// `v1=` and the lower-case hex of the MAC.
    static func sign(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        let message = Array("\(timestamp).".utf8) + body
        return "v1=" + hex(HMAC.sha256(key: Array(secret.utf8), message: message))
    }

    /// The three headers of one attempt: `id` is `<account>:<cursor>` and stays the same on every
    /// retry, so a receiver drops duplicates by it.
    static func headers(id: String, secret: String, at now: UnixTime, body: [UInt8]) -> [(String, String)] {
        let seconds = now.seconds
        return [(idHeader, id), (timestampHeader, String(seconds)), (signatureHeader, sign(secret: secret, timestamp: seconds, body: body))]
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
