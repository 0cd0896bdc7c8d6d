import WauseBinary

/// The `media_conn` iq and its answer (whatsmeow mediaconn.go queryMediaConn; Baileys
/// src/Socket/messages-send.ts refreshMediaConn): the client asks the server where to upload and
/// download media and with which `auth`; the answer names the hosts, how long it is good for
/// (`ttl`, seconds) and the auth's own lifetime. Pure values: the engine builds the query and reads
/// the answer, the simulator reads the query and builds the answer.
public enum MediaConnStanzas {
    /// `xmlns` of the iq.
    public static let namespace = "w:m"

    /// `<iq xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>`.
    public static func query(id: String) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": .text(namespace), "type": "set", "to": .jid(.whatsAppServer)],
             children: [Node(tag: "media_conn")])
    }

    /// Whether an iq is the media_conn query (the simulator's router asks).
    public static func isQuery(_ node: Node) -> Bool {
        node.tag == "iq" && node[attribute: "xmlns"] == namespace && node[attribute: "type"] == "set" && node.child("media_conn") != nil
    }

    /// One `<host hostname=… [maxContentLengthBytes=…]/>`. The hostname may carry a port
    /// (`127.0.0.1:8793`): clients put it between `https://` and the path as it is.
    public struct Host: Hashable, Sendable {
        public var hostname: String
        public var maxContentLengthBytes: Int64?

        public init(hostname: String, maxContentLengthBytes: Int64? = nil) {
            self.hostname = hostname
            self.maxContentLengthBytes = maxContentLengthBytes
        }
    }

    /// The `<media_conn>` the server answers with. whatsmeow refuses an answer without `auth`,
    /// `ttl`, `auth_ttl` and `max_buckets`, so all four are always written and required here too.
    public struct MediaConn: Hashable, Sendable {
        public var auth: String
        /// Seconds the answer may be cached (whatsmeow MediaConn.Expiry: fetched at + ttl).
        public var ttl: Int
        /// Seconds the `auth` stays valid.
        public var authTTL: Int
        public var maxBuckets: Int
        public var hosts: [Host]

        public init(auth: String, ttl: Int, authTTL: Int, maxBuckets: Int, hosts: [Host]) {
            self.auth = auth
            self.ttl = ttl
            self.authTTL = authTTL
            self.maxBuckets = maxBuckets
            self.hosts = hosts
        }

        /// `<media_conn auth ttl auth_ttl max_buckets><host hostname/>…</media_conn>`.
        public var node: Node {
            Node(tag: "media_conn", attributes: [
                "auth": .text(auth), "ttl": .text(String(ttl)), "auth_ttl": .text(String(authTTL)),
                "max_buckets": .text(String(maxBuckets)),
            ], children: hosts.map { host in
                var attributes: Attributes = ["hostname": .text(host.hostname)]
                if let limit = host.maxContentLengthBytes { attributes["maxContentLengthBytes"] = .text(String(limit)) }
                return Node(tag: "host", attributes: attributes)
            })
        }

        /// The server's iq result around it.
        public func result(id: String) -> Node {
            Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "result", "id": .text(id)], children: [node])
        }

        /// Reads the `<media_conn>` itself or the iq result holding it as its first child
        /// (whatsmeow takes the first child and refuses any other tag). Children other than
        /// `<host>` are skipped, as whatsmeow does (it only warns).
        public init(parsing node: Node) throws(MalformedStanza) {
            let element: Node
            if node.tag == "media_conn" {
                element = node
            } else if node.tag == "iq" {
                guard let first = node.children.first, first.tag == "media_conn" else {
                    throw MalformedStanza(tag: node.tag, reason: "the answer's first child is not <media_conn>")
                }
                element = first
            } else {
                throw MalformedStanza(tag: node.tag, reason: "expected <media_conn> or the iq around it")
            }
            guard let auth = element[attribute: "auth"], !auth.isEmpty else {
                throw MalformedStanza(tag: "media_conn", reason: "auth is missing")
            }
            var numbers: [Int] = []
            for name in ["ttl", "auth_ttl", "max_buckets"] {
                guard let value = element[attribute: name].flatMap(Int.init), value >= 0 else {
                    throw MalformedStanza(tag: "media_conn", reason: "\(name) must be a non-negative integer")
                }
                numbers.append(value)
            }
            var hosts: [Host] = []
            for child in element.children where child.tag == "host" {
                guard let hostname = child[attribute: "hostname"], !hostname.isEmpty else {
                    throw MalformedStanza(tag: "host", reason: "hostname is missing")
                }
                hosts.append(Host(hostname: hostname, maxContentLengthBytes: child[attribute: "maxContentLengthBytes"].flatMap(Int64.init)))
            }
            self.init(auth: auth, ttl: numbers[0], authTTL: numbers[1], maxBuckets: numbers[2], hosts: hosts)
        }
    }
}
