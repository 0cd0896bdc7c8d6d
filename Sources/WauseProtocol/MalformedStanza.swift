import WauseBinary

/// Why a stanza could not be read as the protocol value a parser expected (a receipt without
/// an id, a message without a sender). Both sides of the wire log it and drop the stanza; it
/// never reaches a caller of the public API.
public struct MalformedStanza: Error, Hashable, Sendable, CustomStringConvertible {
    public var tag: String
    public var reason: String

    public init(tag: String, reason: String) {
        self.tag = tag
        self.reason = reason
    }

    public var description: String { "malformed <\(tag)>: \(reason)" }
}

extension Node {
    /// An address attribute whether the peer encoded it as a JID (the JID encodings of whatsmeow
    /// binary/encoder.go writeJID) or as text: independent clients (tests/interop) write text,
    /// and an address is the same address either way.
    func address(_ name: String) -> JID? {
        switch attributes[name] {
        case .jid(let jid)?: return jid
        case .text(let text)?: return JID(text)
        case nil: return nil
        }
    }
}
