import WauseBinary

/// The `w:sync:app:state` iqs and the `server_sync` notification (whatsmeow appstate.go
/// `fetchAppStatePatches`, `sendAppState`, appstate/decode.go `ParsePatchList`, notification.go
/// `handleAppStateNotification`; Baileys src/Socket/chats.ts `resyncAppState`, `appPatch`,
/// chat-utils.ts `extractSyncdPatches`). Both sides use these: the engine builds requests and reads
/// answers, the simulator reads requests and builds answers.
///
///     <iq xmlns="w:sync:app:state" type="set" to="s.whatsapp.net"><sync>
///       <collection name="regular_high" version="7" return_snapshot="false"/>      fetch from v7
///       <collection name="regular_low" version="3" return_snapshot="false">        send on top of v3
///         <patch>SyncdPatch</patch></collection>
///     </sync></iq>
///     → <iq type="result"><sync><collection name version [has_more_patches="true"] [type="error"]>
///         [<error code text/>] [<snapshot>ExternalBlobReference</snapshot>] <patches><patch>SyncdPatch</patch>…</patches>
///       </collection>…</sync></iq>
public enum AppStateStanzas {
    public static let namespace = "w:sync:app:state"

    /// One `<collection>` of a request: fetch from `version` (nil, or 0, with a snapshot: from
    /// scratch; whatsmeow leaves the version out, Baileys sends "0"), or send `patches` built on
    /// `version`.
    public struct Fetch: Sendable, Hashable {
        public var collection: AppStateCollection
        public var version: UInt64?
        public var returnSnapshot: Bool
        /// Serialized `SyncdPatch`es to send (a set); empty for a fetch.
        public var patches: [[UInt8]]

        public init(collection: AppStateCollection, version: UInt64?, returnSnapshot: Bool, patches: [[UInt8]] = []) {
            self.collection = collection
            self.version = version
            self.returnSnapshot = returnSnapshot
            self.patches = patches
        }
    }

    public struct Request: Sendable, Hashable {
        public var collections: [Fetch]

        public init(collections: [Fetch]) { self.collections = collections }

        public func node(id: String) -> Node {
            Node(tag: "iq", attributes: ["id": .text(id), "xmlns": .text(namespace), "type": "set", "to": .jid(.whatsAppServer)],
                 children: [Node(tag: "sync", children: collections.map { fetch in
                     var attributes: Attributes = ["name": .text(fetch.collection.rawValue)]
                     if let version = fetch.version { attributes["version"] = .text(String(version)) }
                     attributes["return_snapshot"] = fetch.returnSnapshot ? "true" : "false"
                     guard !fetch.patches.isEmpty else { return Node(tag: "collection", attributes: attributes) }
                     return Node(tag: "collection", attributes: attributes, children: fetch.patches.map { Node(tag: "patch", bytes: $0) })
                 })])
        }

        /// Whether an iq is an app-state request (the simulator's router asks).
        public static func isRequest(_ node: Node) -> Bool {
            node.tag == "iq" && node[attribute: "xmlns"] == namespace && node[attribute: "type"] == "set" && node.child("sync") != nil
        }

        public init(parsing node: Node) throws(MalformedStanza) {
            guard Self.isRequest(node), let sync = node.child("sync") else {
                throw MalformedStanza(tag: node.tag, reason: "not a \(namespace) set iq with <sync>")
            }
            var collections: [Fetch] = []
            for element in sync.children("collection") {
                guard let name = element[attribute: "name"], let collection = AppStateCollection(rawValue: name) else {
                    throw MalformedStanza(tag: "collection", reason: "unknown collection \(element[attribute: "name"] ?? "(none)")")
                }
                var version: UInt64?
                if let text = element[attribute: "version"] {
                    guard let number = UInt64(text) else { throw MalformedStanza(tag: "collection", reason: "version \(text) is not a number") }
                    version = number
                }
                let patches = element.children("patch").compactMap(\.bytes)
                collections.append(Fetch(collection: collection, version: version, returnSnapshot: element[attribute: "return_snapshot"] == "true",
                                         patches: patches))
            }
            guard !collections.isEmpty else { throw MalformedStanza(tag: "sync", reason: "no <collection>") }
            self.init(collections: collections)
        }
    }

    /// One `<collection>` of the answer.
    public struct Answer: Sendable, Hashable {
        public var collection: AppStateCollection
        /// The server's version of the collection after what it returns.
        public var version: UInt64
        public var hasMorePatches: Bool
        /// A serialized `ExternalBlobReference` to the `SyncdSnapshot` (downloaded as media, `md-app-state`).
        public var snapshot: [UInt8]?
        /// Serialized `SyncdPatch`es, oldest first, each carrying its version.
        public var patches: [[UInt8]]
        /// `<error code text/>` of a refused set: 409 when the collection moved past the version the
        /// patch was built on (its newer patches come with it), 400 for a patch that does not verify.
        public var error: ErrorCode?

        public struct ErrorCode: Sendable, Hashable {
            public var code: Int
            public var text: String
            public init(code: Int, text: String) {
                self.code = code
                self.text = text
            }
            public static let conflict = ErrorCode(code: 409, text: "conflict")
        }

        public init(collection: AppStateCollection, version: UInt64, hasMorePatches: Bool = false, snapshot: [UInt8]? = nil,
                    patches: [[UInt8]] = [], error: ErrorCode? = nil) {
            self.collection = collection
            self.version = version
            self.hasMorePatches = hasMorePatches
            self.snapshot = snapshot
            self.patches = patches
            self.error = error
        }

        var node: Node {
            var attributes: Attributes = ["name": .text(collection.rawValue), "version": .text(String(version))]
            if hasMorePatches { attributes["has_more_patches"] = "true" }
            if error != nil { attributes["type"] = "error" }
            var children: [Node] = []
            if let error { children.append(Node(tag: "error", attributes: ["code": .text(String(error.code)), "text": .text(error.text)])) }
            if let snapshot { children.append(Node(tag: "snapshot", bytes: snapshot)) }
            children.append(Node(tag: "patches", children: patches.map { Node(tag: "patch", bytes: $0) }))
            return Node(tag: "collection", attributes: attributes, children: children)
        }
    }

    public struct Response: Sendable, Hashable {
        public var collections: [Answer]

        public init(collections: [Answer]) { self.collections = collections }

        public func result(id: String) -> Node {
            Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "result", "id": .text(id)],
                 children: [Node(tag: "sync", children: collections.map(\.node))])
        }

        /// Reads the iq result. Patches are read from `<patches>` and, as Baileys also accepts,
        /// directly under `<collection>`; collections of names we do not know are skipped.
        public init(parsing node: Node) throws(MalformedStanza) {
            guard node.tag == "iq", node[attribute: "type"] == "result", let sync = node.child("sync") else {
                throw MalformedStanza(tag: node.tag, reason: "not an iq result with <sync>")
            }
            var answers: [Answer] = []
            for element in sync.children("collection") {
                guard let collection = element[attribute: "name"].flatMap(AppStateCollection.init(rawValue:)) else { continue }
                let version = element[attribute: "version"].flatMap(UInt64.init) ?? 0
                var error: Answer.ErrorCode?
                if element[attribute: "type"] == "error" || element.child("error") != nil {
                    let code = element.child("error")?[attribute: "code"].flatMap(Int.init) ?? 500
                    error = Answer.ErrorCode(code: code, text: element.child("error")?[attribute: "text"] ?? "")
                }
                let patches = (element.child("patches")?.children("patch") ?? []) + element.children("patch")
                answers.append(Answer(collection: collection, version: version, hasMorePatches: element[attribute: "has_more_patches"] == "true",
                                      snapshot: element.child("snapshot")?.bytes, patches: patches.compactMap(\.bytes), error: error))
            }
            self.init(collections: answers)
        }
    }

    /// `<notification from="s.whatsapp.net" type="server_sync" id t><collection name version/>…</notification>`:
    /// the server tells an account's devices that collections moved on (acked like every notification).
    public struct ServerSync: Sendable, Hashable {
        public var collections: [(AppStateCollection, UInt64)] { zip(names, versions).map { ($0, $1) } }
        var names: [AppStateCollection]
        var versions: [UInt64]

        public init(_ collections: [(AppStateCollection, UInt64)]) {
            names = collections.map(\.0)
            versions = collections.map(\.1)
        }

        public func node(id: String, t: Int64) -> Node {
            Node(tag: "notification", attributes: [
                "from": .jid(.whatsAppServer), "type": "server_sync", "id": .text(id), "t": .text(String(t)),
            ], children: collections.map { name, version in
                Node(tag: "collection", attributes: ["name": .text(name.rawValue), "version": .text(String(version))])
            })
        }

        public static func isServerSync(_ node: Node) -> Bool {
            node.tag == "notification" && node[attribute: "type"] == "server_sync"
        }

        /// Collections we do not know are skipped (whatsmeow fetches each listed name; an unknown
        /// one would only fail).
        public init(parsing node: Node) throws(MalformedStanza) {
            guard Self.isServerSync(node) else { throw MalformedStanza(tag: node.tag, reason: "not a server_sync notification") }
            var collections: [(AppStateCollection, UInt64)] = []
            for element in node.children("collection") {
                guard let name = element[attribute: "name"].flatMap(AppStateCollection.init(rawValue:)) else { continue }
                collections.append((name, element[attribute: "version"].flatMap(UInt64.init) ?? 0))
            }
            self.init(collections)
        }
    }
}
