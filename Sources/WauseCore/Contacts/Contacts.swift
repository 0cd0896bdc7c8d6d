import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

/// People: one contact per person, whether WhatsApp addresses them by phone number or by LID
/// (whatsmeow send.go SendMessage). Every tool that names a person goes through `Recipients.resolve`,
/// which accepts a phone number, a phone or LID JID, or an unambiguous stored name.
public struct Contact: Sendable, Equatable {
    public var id: Int64
    public var phone: String?
    public var lid: String?
    public var pushName: String?
    public var fullName: String?
    public var savedName: String?
    /// The name set here with whatsapp_set_contact_name: it wins over every other name.
    public var localName: String? = nil

    /// The chat JID messages with this person are filed under: the phone JID when the number is
    /// known (what the contract's `phone_number` tools name), else the LID JID.
    public var chatJID: String {
        if let phone { return "\(phone)@s.whatsapp.net" }
        return "\(lid ?? "")@lid"
    }

    public var displayName: String? { localName ?? savedName ?? fullName ?? pushName }
}

public enum Recipients {
    /// The person `text` names. A name that matches several contacts is `ambiguous_recipient`
    /// with the candidates in `details`; no match is `not_found`.
    public static func resolve(_ text: String, store: Store, now: UnixTime) throws(WauseError) -> Contact {
        let trimmed = text.trimmingCharacters(in: " \t")
        guard !trimmed.isEmpty else { throw .invalidRequest("a recipient is required: a phone number, JID, LID or contact name") }
        if trimmed.contains("@") {
            guard let jid = JID(trimmed), !jid.user.isEmpty else { throw .invalidRequest("'\(trimmed)' is not a valid JID") }
            switch jid.server {
            case .whatsApp, .legacyUser:
                return try store.contact(phone: try PhoneNumber.normalize(jid.user), lid: nil, now: now)
            case .lid:
                guard jid.user.allSatisfy(\.isNumber) else { throw .invalidRequest("'\(trimmed)' is not a valid LID") }
                return try store.contact(phone: nil, lid: jid.user, now: now)
            case .group:
                throw .invalidRequest("'\(trimmed)' is a group; group messaging is not available yet")
            default:
                throw .invalidRequest("'\(trimmed)' is not a person's JID (server \(jid.server.rawValue))")
            }
        }
        if trimmed.first.map({ $0 == "+" || $0.isNumber }) == true {
            return try store.contact(phone: try PhoneNumber.normalize(trimmed), lid: nil, now: now)
        }
        let matches = try store.contacts(named: trimmed)
        switch matches.count {
        case 1: return matches[0]
        case 0: throw WauseError(.notFound, "no contact or chat is named '\(trimmed)'")
        default:
            throw WauseError(.ambiguousRecipient, "'\(trimmed)' matches \(matches.count) contacts; name one by phone number or JID",
                             details: ["candidates": .array(matches.map { contact in
                                 ["name": JSONValue(contact.displayName), "phone": JSONValue(contact.phone),
                                  "jid": .string(contact.chatJID)]
                             })])
        }
    }
}

extension Recipients {
    /// The chat `text` names, for the tools that read or mark a chat: a group (its JID, or a name
    /// only groups have — Groups.swift `resolve`) or a person's chat.
    static func chatJID(_ text: String, store: Store, now: UnixTime) throws(WauseError) -> String {
        let trimmed = text.trimmingCharacters(in: " \t")
        if trimmed.hasSuffix("@g.us") { return try Groups.resolve(trimmed, store: store).description }
        if !trimmed.isEmpty, !trimmed.contains("@"), trimmed.first.map({ $0 == "+" || $0.isNumber }) == false,
            try !store.groups(named: trimmed).isEmpty, try store.contacts(named: trimmed).isEmpty
        {
            return try Groups.resolve(trimmed, store: store).description
        }
        return try resolve(text, store: store, now: now).chatJID
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
