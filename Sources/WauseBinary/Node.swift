/// One element of WhatsApp's binary XML: a tag, ordered attributes and optional content
/// (whatsmeow binary/encoder.go writeNode).
///
/// A value type: nodes are wire data, built, sent, received and inspected, never shared
/// mutable state.
public struct Node: Hashable, Sendable {
    public var tag: String
    public var attributes: Attributes
    public var content: Content

    public init(tag: String, attributes: Attributes = [:], content: Content = .none) {
        self.tag = tag
        self.attributes = attributes
        self.content = content
    }

    /// A node whose content is child nodes.
    public init(tag: String, attributes: Attributes = [:], children: [Node]) {
        self.init(tag: tag, attributes: attributes, content: .nodes(children))
    }

    /// A node whose content is bytes.
    public init(tag: String, attributes: Attributes = [:], bytes: [UInt8]) {
        self.init(tag: tag, attributes: attributes, content: .bytes(bytes))
    }

    /// What a node holds after its attributes (whatsmeow binary/encoder.go writeNode).
    public enum Content: Hashable, Sendable {
        /// No content: the list size is odd.
        case none
        /// Child nodes. An empty list is written as LIST_EMPTY and is distinct from `.none`.
        case nodes([Node])
        /// Binary data (BINARY_8/20/32). The decoder returns every raw-length value in content
        /// position as bytes, as whatsmeow does, because content is usually binary
        /// (ciphertext, keys); `.text` comes back only for tokens and packed strings.
        case bytes([UInt8])
        /// A string, written as a token, a packed string or raw UTF-8 (whatsmeow binary/encoder.go writeString).
        case text(String)
        /// A JID in content position; whatsmeow accepts and produces these (`write(types.JID)`).
        indirect case jid(JID)
    }
}

// MARK: - Attribute values

/// An attribute value: plain text, or a JID that is always written in a JID encoding (JID_PAIR,
/// AD_JID, FB_JID, INTEROP_JID) and never as a bare string or token (whatsmeow binary/encoder.go writeJID).
///
/// The distinction matters on the wire: whatsmeow ignores a stanza whose `from` is the token
/// `s.whatsapp.net` instead of the JID pair `FA 00 03` (docs/interop-oracles.md, baileys-python
/// caveat), so addresses must be typed as JIDs, never as strings that happen to contain `@`.
public enum AttributeValue: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    case text(String)
    case jid(JID)

    public init(stringLiteral value: String) { self = .text(value) }

    /// The text, or the JID's text form.
    public var description: String {
        switch self {
        case .text(let text): return text
        case .jid(let jid): return jid.description
        }
    }

    public var text: String? { if case .text(let text) = self { return text }; return nil }
    public var jid: JID? { if case .jid(let jid) = self { return jid }; return nil }
}

/// One attribute: a name and its value.
public struct Attribute: Hashable, Sendable {
    public var name: String
    public var value: AttributeValue
    public init(name: String, value: AttributeValue) {
        self.name = name
        self.value = value
    }
}

/// The attributes of a node, in order.
///
/// Order is kept because it is what goes on the wire, so that `decode(encode(node)) == node`
/// and encodings are reproducible; equality is therefore order-sensitive. Names are unique when
/// built through the subscript; a decoded node keeps duplicates as received, and lookups then
/// return the last one, as a map-based decoder (whatsmeow, Baileys) would.
public struct Attributes: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    public private(set) var elements: [Attribute]

    public init() { elements = [] }
    public init(_ elements: [Attribute]) { self.elements = elements }
    public init(dictionaryLiteral pairs: (String, AttributeValue)...) {
        elements = []
        elements.reserveCapacity(pairs.count)
        for (name, value) in pairs { self[name] = value }
    }

    public var startIndex: Int { elements.startIndex }
    public var endIndex: Int { elements.endIndex }
    public subscript(position: Int) -> Attribute { elements[position] }

    /// The value named `name`; setting replaces it in place (or appends), setting nil removes it.
    public subscript(name: String) -> AttributeValue? {
        get { elements.last(where: { $0.name == name })?.value }
        set {
            guard let newValue else {
                elements.removeAll { $0.name == name }
                return
            }
            if let first = elements.firstIndex(where: { $0.name == name }) {
                elements[first].value = newValue
                // Drop later duplicates so the value just set is the one a lookup returns.
                var index = elements.index(after: first)
                while index < elements.endIndex {
                    if elements[index].name == name { elements.remove(at: index) } else { index += 1 }
                }
            } else {
                elements.append(Attribute(name: name, value: newValue))
            }
        }
    }

    /// Appends without checking for an existing name (the decoder's path).
    public mutating func append(_ attribute: Attribute) { elements.append(attribute) }

    mutating func reserveCapacity(_ count: Int) { elements.reserveCapacity(count) }
}

// MARK: - Convenience accessors

extension Node {
    /// The value of attribute `name` as text (a JID value gives its text form).
    public subscript(attribute name: String) -> String? {
        attributes[name]?.description
    }

    /// The JID value of attribute `name`; nil when absent or when the value is plain text.
    public func jid(_ name: String) -> JID? {
        attributes[name]?.jid
    }

    /// Child nodes; empty when the content is not a list of nodes.
    public var children: [Node] {
        if case .nodes(let nodes) = content { return nodes }
        return []
    }

    /// The first child with `tag`.
    public func child(_ tag: String) -> Node? {
        guard case .nodes(let nodes) = content else { return nil }
        return nodes.first { $0.tag == tag }
    }

    /// All children with `tag`.
    public func children(_ tag: String) -> [Node] {
        children.filter { $0.tag == tag }
    }

    /// Follows a path of child tags, e.g. `node.child(path: "pair-device", "ref")`.
    public func child(path tags: String...) -> Node? {
        var current = self
        for tag in tags {
            guard let next = current.child(tag) else { return nil }
            current = next
        }
        return current
    }

    /// Binary content; text content gives its UTF-8 bytes, since a raw string and raw bytes
    /// are the same thing on the wire (whatsmeow binary/encoder.go writeNode).
    public var bytes: [UInt8]? {
        switch content {
        case .bytes(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// Text content; binary content is decoded as UTF-8 (invalid sequences become U+FFFD).
    public var text: String? {
        switch content {
        case .text(let text): return text
        case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .jid(let jid): return jid.description
        default: return nil
        }
    }
}

// MARK: - Debug text

extension Node: CustomStringConvertible {
    /// XML-like text for logs and test failures: `<iq id="1" to=s.whatsapp.net><ping/></iq>`.
    /// JID values are unquoted, so a typed JID is told apart from a string at a glance; binary
    /// content is shown as hex.
    public var description: String {
        var text = "<" + tag
        for attribute in attributes {
            switch attribute.value {
            case .text(let value): text += " \(attribute.name)=\"\(value)\""
            case .jid(let jid): text += " \(attribute.name)=\(jid)"
            }
        }
        switch content {
        case .none: return text + "/>"
        case .nodes(let children): text += ">" + children.map(\.description).joined()
        case .bytes(let bytes): text += ">" + bytes.map { hexByte($0) }.joined()
        case .text(let value): text += ">" + value
        case .jid(let jid): text += ">" + jid.description
        }
        return text + "</\(tag)>"
    }
}
