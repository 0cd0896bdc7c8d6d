import WauseBinary

/// Who is on WhatsApp: the usync `contact` query (whatsmeow user.go IsOnWhatsApp; Baileys src/Socket/chats.ts
/// onWhatsApp with USyncContactProtocol). The client names phones as `<user><contact>+digits</contact></user>`
/// (no JID: it does not know one yet) and asks for `<lid/>` too; the server answers each with
/// `<user jid=…@s.whatsapp.net><contact type="in|out">+digits</contact>[<lid val/>]</user>` — `in` is registered.
public enum USyncContacts {
    public struct Result: Equatable, Sendable {
        /// The digits asked about.
        public var phone: String
        public var onWhatsApp: Bool
        /// The phone JID the server answered (registered users only).
        public var jid: JID?
        public var lid: JID?

        public init(phone: String, onWhatsApp: Bool, jid: JID?, lid: JID?) {
            self.phone = phone
            self.onWhatsApp = onWhatsApp
            self.jid = jid
            self.lid = lid
        }
    }

    /// `<iq xmlns=usync type=get><usync mode=query context=interactive …><query><contact/><lid/></query><list>…`.
    public static func query(id: String, phones: [String]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "usync", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "usync", attributes: ["sid": .text(id), "mode": "query", "last": "true", "index": "0", "context": "interactive"],
                 children: [
                     Node(tag: "query", children: [Node(tag: "contact"), Node(tag: "lid")]),
                     Node(tag: "list", children: phones.map { Node(tag: "user", children: [Node(tag: "contact", content: .text("+" + $0))]) }),
                 ]),
        ])
    }

    /// The answer's users that carry a `<contact>`, by the digits they echo.
    public static func parse(_ answer: Node) -> [Result] {
        guard let list = answer.child(path: "usync", "list") else { return [] }
        return list.children("user").compactMap { user -> Result? in
            guard let contact = user.child("contact"), let phone = contact.text.flatMap(USyncRequest.contactDigits) else { return nil }
            let registered = contact[attribute: "type"] == "in"
            let lid = user.child("lid")?.jid("val") ?? user.child("lid")?[attribute: "val"].flatMap(JID.init)
            return Result(phone: phone, onWhatsApp: registered, jid: registered ? user.jid("jid") : nil, lid: registered ? lid : nil)
        }
    }

    /// The server's `<contact type>` node for one asked phone (the `<user>` around it is the server's).
    public static func answer(query text: String, registered: Bool) -> Node {
        Node(tag: "contact", attributes: ["type": .text(registered ? "in" : "out")], content: .text(text))
    }
}
