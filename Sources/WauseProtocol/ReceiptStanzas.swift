import WauseBinary
import WauseSignal

/// The `<receipt>` stanza both sides of the wire speak (whatsmeow receipt.go parseReceipt,
/// buildBaseReceipt, sendMessageReceipt, MarkRead; retry.go sendRetryReceipt,
/// handleRetryReceipt; types/presence.go ReceiptType; Baileys src/Socket/messages-recv.ts
/// sendReceipt, sendRetryRequest): delivery and read receipts, the `type="sender"` answer to our
/// own devices' copies, retry receipts with their `<retry>`, `<registration>` and `<keys>`, and
/// the `<list><item id/>` form that names several messages in one receipt.
///
/// The engine builds what a client sends and parses what the server forwards; wause-sim parses
/// what a client sends and builds what it forwards, and its virtual phones build as a client.
public enum ReceiptStanzas {
    /// The `type` attribute (whatsmeow types/presence.go ReceiptType). An open set: a type this
    /// side does not know is kept as received. `delivery` is the absent attribute.
    public struct ReceiptType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue.isEmpty ? "delivery" : rawValue }

        /// No `type` attribute: delivered to the device (two grey ticks).
        public static let delivery: ReceiptType = ""
        public static let read: ReceiptType = "read"
        /// Read, with read receipts turned off in the privacy settings (whatsmeow MarkRead).
        public static let readSelf: ReceiptType = "read-self"
        public static let played: ReceiptType = "played"
        public static let playedSelf: ReceiptType = "played-self"
        /// A device of the sender's own account got the copy of a message it sent.
        public static let sender: ReceiptType = "sender"
        /// Delivered to a client that is not marked online (whatsmeow sendMessageReceipt).
        public static let inactive: ReceiptType = "inactive"
        public static let retry: ReceiptType = "retry"
        public static let serverError: ReceiptType = "server-error"
        public static let peerMessage: ReceiptType = "peer_msg"
        public static let historySync: ReceiptType = "hist_sync"
    }

    /// A retry receipt's `<retry count id t v/>` (whatsmeow retry.go sendRetryReceipt): which
    /// attempt this is, the message, and the message's original `t`, which the resend carries.
    public struct Retry: Hashable, Sendable {
        public var count: Int
        public var id: String
        public var t: Int64?
        public var version: String

        public init(count: Int, id: String, t: Int64?, version: String = "1") {
            self.count = count
            self.id = id
            self.t = t
            self.version = version
        }
    }

    /// One receipt, as sent or as received.
    public struct Receipt: Hashable, Sendable {
        /// The messages it covers: the first is the `id` attribute, the rest are the
        /// `<list><item id/>` children (whatsmeow receipt.go MarkRead, parseReceipt).
        public var ids: [String]
        public var type: ReceiptType
        /// Set by the server on what it forwards: the device that sent the receipt.
        public var from: JID?
        /// Set by the client: the chat or sender the receipt goes to.
        public var to: JID?
        /// Unix seconds.
        public var t: Int64?
        /// The chat of a message our own device sent, when the receipt comes from another of
        /// our devices (whatsmeow receipt.go buildBaseReceipt copies it from the message).
        public var recipient: JID?
        /// The sender of a group message (whatsmeow receipt.go MarkRead, buildBaseReceipt).
        public var participant: JID?
        /// `peer` for retries of peer messages (whatsmeow retry.go sendRetryReceipt).
        public var category: String?
        public var retry: Retry?
        /// The receipt sender's registration id (`<registration>`, 4 bytes big-endian).
        public var registrationID: UInt32?
        /// The receipt sender's keys (`<keys>`, from the second retry on), in the form
        /// `PreKeyStanzas.retryKeys` builds and `PreKeyStanzas.bundle` reads.
        public var keys: Node?

        public init(ids: [String], type: ReceiptType = .delivery, from: JID? = nil, to: JID? = nil, t: Int64? = nil,
                    recipient: JID? = nil, participant: JID? = nil, category: String? = nil, retry: Retry? = nil,
                    registrationID: UInt32? = nil, keys: Node? = nil) {
            precondition(!ids.isEmpty, "a receipt names at least one message")
            self.ids = ids
            self.type = type
            self.from = from
            self.to = to
            self.t = t
            self.recipient = recipient
            self.participant = participant
            self.category = category
            self.retry = retry
            self.registrationID = registrationID
            self.keys = keys
        }

        /// The message the receipt is about (the `id` attribute).
        public var id: String { ids[0] }

        /// The receipt a client sends for a message it received (whatsmeow receipt.go
        /// buildBaseReceipt): its id, back to its `from`, with its `recipient` and `participant`.
        public static func answering(_ message: MessageEnvelope, type: ReceiptType) -> Receipt {
            Receipt(ids: [message.id], type: type, to: message.from, recipient: message.recipient, participant: message.participant)
        }

        /// The retry receipt for a message that did not decrypt (whatsmeow retry.go
        /// sendRetryReceipt): `count` is this attempt (1-based), `t` the message's; `keys`
        /// (`PreKeyStanzas.retryKeys`) go along from the second attempt on.
        public static func retry(answering message: MessageEnvelope, count: Int, t: Int64, registrationID: UInt32, keys: Node?) -> Receipt {
            var receipt = answering(message, type: .retry)
            receipt.retry = Retry(count: count, id: message.id, t: t)
            receipt.registrationID = registrationID
            receipt.keys = keys
            return receipt
        }

        /// The read receipt for messages of one chat (and, in groups, one sender) (whatsmeow
        /// receipt.go MarkRead): the first id as the attribute, the others listed.
        public static func read(ids: [String], chat: JID, t: Int64?, type: ReceiptType = .read, sender: JID? = nil) -> Receipt {
            Receipt(ids: ids, type: type, to: chat, t: t, participant: sender)
        }

        /// `<receipt id [from] [to] [type] [t] [recipient] [participant] [category]>` with, in
        /// this order, `<list><item id/>…</list>` for more ids, `<retry/>`, `<registration/>` and
        /// `<keys>` (whatsmeow retry.go sendRetryReceipt appends them in that order).
        public var node: Node {
            var attributes: Attributes = ["id": .text(ids[0])]
            if let from { attributes["from"] = .jid(from) }
            if let to { attributes["to"] = .jid(to) }
            if type != .delivery { attributes["type"] = .text(type.rawValue) }
            if let t { attributes["t"] = .text(String(t)) }
            if let recipient { attributes["recipient"] = .jid(recipient) }
            if let participant { attributes["participant"] = .jid(participant) }
            if let category { attributes["category"] = .text(category) }
            var children: [Node] = []
            if ids.count > 1 {
                children.append(Node(tag: "list", children: ids.dropFirst().map { Node(tag: "item", attributes: ["id": .text($0)]) }))
            }
            if let retry {
                var retryAttributes: Attributes = ["count": .text(String(retry.count)), "id": .text(retry.id)]
                if let t = retry.t { retryAttributes["t"] = .text(String(t)) }
                retryAttributes["v"] = .text(retry.version)
                children.append(Node(tag: "retry", attributes: retryAttributes))
            }
            if let registrationID { children.append(PreKeyStanzas.registrationNode(registrationID)) }
            if let keys { children.append(keys) }
            return Node(tag: "receipt", attributes: attributes, content: children.isEmpty ? .none : .nodes(children))
        }

        /// Reads a `<receipt>` (whatsmeow receipt.go parseReceipt): the id is required; the
        /// `<list>` adds ids; a retry receipt's `<retry>` must name the message (handleRetryReceipt
        /// refuses one without). Addresses may come as JIDs or as text.
        public init(parsing node: Node) throws(MalformedStanza) {
            guard node.tag == "receipt" else { throw MalformedStanza(tag: node.tag, reason: "not a receipt") }
            guard let id = node[attribute: "id"], !id.isEmpty else { throw MalformedStanza(tag: "receipt", reason: "no id") }
            var ids = [id]
            ids += node.child("list")?.children("item").compactMap { $0[attribute: "id"] } ?? []
            var retry: Retry?
            if let child = node.child("retry") {
                guard let retryID = child[attribute: "id"] else { throw MalformedStanza(tag: "receipt", reason: "<retry> without id") }
                retry = Retry(count: child[attribute: "count"].flatMap(Int.init) ?? 1, id: retryID,
                              t: child[attribute: "t"].flatMap(Int64.init), version: child[attribute: "v"] ?? "1")
            }
            self.init(ids: ids, type: ReceiptType(rawValue: node[attribute: "type"] ?? ""), from: node.address("from"),
                      to: node.address("to"), t: node[attribute: "t"].flatMap(Int64.init), recipient: node.address("recipient"),
                      participant: node.address("participant"), category: node[attribute: "category"], retry: retry,
                      registrationID: PreKeyStanzas.bigEndian(node.child("registration")?.bytes), keys: node.child("keys"))
        }

        /// The session a retry receipt's keys offer (`<keys>` with `<registration>` beside it),
        /// for `device`; nil when the receipt carries none or they do not make a bundle.
        public func bundle(for device: JID) -> PreKeyBundle? {
            guard let keys, let registrationID else { return nil }
            return PreKeyStanzas.bundle(keys: keys, registration: PreKeyStanzas.bigEndian(registrationID, bytes: 4), device: device)
        }
    }
}
