import WauseBinary

/// Acknowledges the stanzas the server expects acks for (`message`, `receipt`, `notification`,
/// `call`), as whatsmeow's `sendAck` does: `<ack id class to [type] [participant]/>`.
public enum Acknowledgement {
    public static func ack(for node: Node) -> Node? {
        guard ["message", "receipt", "notification", "call"].contains(node.tag), let id = node[attribute: "id"],
            let from = node.attributes["from"]
        else { return nil }
        var attributes: Attributes = ["id": .text(id), "class": .text(node.tag), "to": from]
        if let participant = node.attributes["participant"] { attributes.append(Attribute(name: "participant", value: participant)) }
        if node.tag != "message", let type = node[attribute: "type"] { attributes.append(Attribute(name: "type", value: .text(type))) }
        return Node(tag: "ack", attributes: attributes)
    }
}
