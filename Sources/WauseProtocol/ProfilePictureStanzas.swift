import WauseBinary

/// A profile picture's URL (whatsmeow user.go GetProfilePictureInfo; Baileys src/Socket/chats.ts profilePictureUrl):
/// `<iq xmlns="w:profile:picture" type="get" target=jid><picture query="url" type="image|preview"/></iq>`,
/// answered with `<picture id url direct_path type/>`, or an iq error: 404 no picture, 401 not allowed to see it.
public enum ProfilePictureStanzas {
    public static let namespace = "w:profile:picture"

    public static func query(id: String, target: JID, preview: Bool) -> Node {
        Node(tag: "iq", attributes: ["xmlns": .text(namespace), "type": "get", "to": .jid(.whatsAppServer), "id": .text(id),
                                     "target": .jid(target)],
             children: [Node(tag: "picture", attributes: ["query": "url", "type": .text(preview ? "preview" : "image")])])
    }

    /// The query as the server reads it.
    public struct Request: Equatable, Sendable {
        public var target: JID
        public var preview: Bool

        public init?(parsing node: Node) {
            guard node.tag == "iq", node[attribute: "xmlns"] == ProfilePictureStanzas.namespace, node[attribute: "type"] == "get",
                let target = node.jid("target") ?? node[attribute: "target"].flatMap(JID.init), let picture = node.child("picture")
            else { return nil }
            self.target = target
            preview = picture[attribute: "type"] == "preview"
        }
    }

    public struct Picture: Equatable, Sendable {
        public var id: String
        public var url: String
        public var directPath: String?
        public var type: String

        public init(id: String, url: String, directPath: String?, type: String) {
            self.id = id
            self.url = url
            self.directPath = directPath
            self.type = type
        }

        public var node: Node {
            var attributes: Attributes = ["id": .text(id), "url": .text(url), "type": .text(type)]
            if let directPath { attributes.append(Attribute(name: "direct_path", value: .text(directPath))) }
            return Node(tag: "picture", attributes: attributes)
        }
    }

    public enum Answer: Equatable, Sendable {
        case picture(Picture)
        /// 404: no picture set.
        case notSet
        /// 401: its owner's privacy settings hide it.
        case hidden
        case failed(code: Int, text: String)

        public init?(parsing iq: Node) {
            if iq[attribute: "type"] == "error" {
                let error = iq.child("error")
                let code = error?[attribute: "code"].flatMap { Int($0) } ?? 0
                switch code {
                case 404: self = .notSet
                case 401: self = .hidden
                default: self = .failed(code: code, text: error?[attribute: "text"] ?? "")
                }
                return
            }
            guard let picture = iq.child("picture") else { return nil }
            // whatsmeow: status 204/304 mean nothing (new) to show.
            guard let id = picture[attribute: "id"], let url = picture[attribute: "url"] else { self = .notSet; return }
            self = .picture(Picture(id: id, url: url, directPath: picture[attribute: "direct_path"], type: picture[attribute: "type"] ?? "image"))
        }
    }
}
