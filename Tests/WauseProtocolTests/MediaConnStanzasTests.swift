import Testing
import WauseBinary
import WauseProtocol

/// MediaConnStanzas against whatsmeow mediaconn.go queryMediaConn: the query's shape and the
/// answer read back through the binary codec, with its refusals.
@Suite struct MediaConnStanzasTests {
    static func roundTrip(_ node: Node) throws -> Node {
        try NodeDecoder().decodeNode(NodeEncoder().encodeNode(node))
    }

    @Test func theQueryHasWhatsmeowsShape() throws {
        let query = try MediaConnStanzasTests.roundTrip(MediaConnStanzas.query(id: "42"))
        #expect(query.tag == "iq" && query[attribute: "xmlns"] == "w:m" && query[attribute: "type"] == "set")
        #expect(query.jid("to") == .whatsAppServer && query[attribute: "id"] == "42")
        #expect(query.children.map(\.tag) == ["media_conn"])
        #expect(MediaConnStanzas.isQuery(query))
        #expect(!MediaConnStanzas.isQuery(Node(tag: "iq", attributes: ["xmlns": "w:m", "type": "get"], children: [Node(tag: "media_conn")])))
    }

    @Test func theAnswerRoundTrips() throws {
        let answer = MediaConnStanzas.MediaConn(auth: "AUTH/+=", ttl: 300, authTTL: 21600, maxBuckets: 12, hosts: [
            .init(hostname: "127.0.0.1:8793", maxContentLengthBytes: 104_857_600), .init(hostname: "mmg.whatsapp.net"),
        ])
        let node = try MediaConnStanzasTests.roundTrip(answer.result(id: "42"))
        #expect(node[attribute: "type"] == "result" && node[attribute: "id"] == "42")
        let element = try #require(node.child("media_conn"))
        #expect(element[attribute: "auth"] == "AUTH/+=" && element[attribute: "ttl"] == "300" && element[attribute: "auth_ttl"] == "21600")
        #expect(element[attribute: "max_buckets"] == "12")
        #expect(try MediaConnStanzas.MediaConn(parsing: node) == answer)
        #expect(try MediaConnStanzas.MediaConn(parsing: element) == answer)
    }

    @Test func otherChildrenAreSkippedAsWhatsmeowDoes() throws {
        let node = Node(tag: "media_conn", attributes: ["auth": "A", "ttl": "1", "auth_ttl": "2", "max_buckets": "3"], children: [
            Node(tag: "host", attributes: ["hostname": "h1"]), Node(tag: "download_buckets"), Node(tag: "host", attributes: ["hostname": "h2"]),
        ])
        #expect(try MediaConnStanzas.MediaConn(parsing: node).hosts.map(\.hostname) == ["h1", "h2"])
    }

    @Test func anAnswerMissingWhatWhatsmeowRequiresIsRefused() {
        let complete: [String: String] = ["auth": "A", "ttl": "1", "auth_ttl": "2", "max_buckets": "3"]
        for missing in complete.keys {
            var attributes = Attributes()
            for (name, value) in complete where name != missing { attributes[name] = .text(value) }
            #expect(throws: MalformedStanza.self) { try MediaConnStanzas.MediaConn(parsing: Node(tag: "media_conn", attributes: attributes)) }
        }
        var bad = Attributes()
        for (name, value) in complete { bad[name] = .text(value) }
        bad["ttl"] = "soon"
        #expect(throws: MalformedStanza.self) { try MediaConnStanzas.MediaConn(parsing: Node(tag: "media_conn", attributes: bad)) }
        #expect(throws: MalformedStanza.self) {
            try MediaConnStanzas.MediaConn(parsing: Node(tag: "iq", attributes: ["type": "result"], children: [Node(tag: "error")]))
        }
        #expect(throws: MalformedStanza.self) {
            try MediaConnStanzas.MediaConn(parsing: Node(tag: "media_conn", attributes: ["auth": "A", "ttl": "1", "auth_ttl": "2", "max_buckets": "3"],
                                                         children: [Node(tag: "host")]))
        }
    }
}
