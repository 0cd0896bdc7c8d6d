import WauseBinary

/// A usync iq as the server reads it (whatsmeow usync.go usync; Baileys src/WAUSync/USyncQuery.ts): which
/// protocols the `<query>` asks for, and who `<list>` names — a `<user jid>` or, for the `contact` protocol,
/// a `<user><contact>+digits</contact></user>` without a JID. The answer wraps each user's nodes in
/// `<usync [sid mode last index context]><list><user jid>…` (`answer`). The engine builds its queries
/// with `USyncDevices`, `USyncContacts` and `USyncUserInfo`; the simulator parses them all here.
public struct USyncRequest: Equatable, Sendable {
    public struct User: Equatable, Sendable {
        /// The JID asked about, if the user was named by JID.
        public var jid: JID?
        /// The `<contact>` text (a phone number, `+`-prefixed, maybe `@c.us`), if named that way.
        public var contact: String?
    }

    /// The tags inside `<query>` (`devices`, `lid`, `contact`, `status`, `business`, `picture`, …).
    public var protocols: Set<String>
    public var users: [User]
    /// The `<usync>` attributes to echo back.
    public var attributes: Attributes

    public init?(parsing iq: Node) {
        guard iq.tag == "iq", iq[attribute: "xmlns"] == "usync", let usync = iq.child("usync"), let list = usync.child("list") else {
            return nil
        }
        protocols = Set((usync.child("query")?.children ?? []).map(\.tag))
        users = list.children("user").map { user in
            User(jid: user.jid("jid") ?? user[attribute: "jid"].flatMap(JID.init), contact: user.child("contact")?.text)
        }
        attributes = Attributes(usync.attributes.filter { ["sid", "mode", "last", "index", "context"].contains($0.name) })
    }

    public func has(_ name: String) -> Bool { protocols.contains(name) }

    /// `<usync …><list>users</list></usync>`: the child of the result iq.
    public func answer(users: [Node]) -> Node {
        Node(tag: "usync", attributes: attributes, children: [Node(tag: "list", children: users)])
    }

    /// The digits of a `<contact>` query (Baileys sends `+digits`, whatsmeow user.go IsOnWhatsApp may add
    /// `@c.us`): both dropped; nil when what is left is not digits.
    public static func contactDigits(_ text: String) -> String? {
        var digits = Substring(text)
        if digits.first == "+" { digits = digits.dropFirst() }
        if let at = digits.firstIndex(of: "@") { digits = digits[..<at] }
        return !digits.isEmpty && digits.allSatisfy({ $0.isASCII && $0.isNumber }) ? String(digits) : nil
    }
}
