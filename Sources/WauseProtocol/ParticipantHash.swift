import WauseBinary
import WauseCrypto
import WauseSupport

/// whatsmeow send.go participantListHashV2: `2:` + unpadded base64 of the first
/// 6 bytes of SHA-256 over the sorted `user.agent:device@server` strings. The server puts it on a
/// message's ack and on `devices` notifications; a sender whose list hashes differently is stale.
public enum ParticipantHash {
    public static func v2(_ devices: [JID]) -> String {
        let strings = devices.map { "\($0.user).\($0.rawAgent):\($0.device)@\($0.server.rawValue)" }.sorted()
        var encoded = Base64.encode(Array(Hash.sha256(Array(strings.joined().utf8)).prefix(6)))
        while encoded.hasSuffix("=") { encoded.removeLast() }
        return "2:" + encoded
    }
}
