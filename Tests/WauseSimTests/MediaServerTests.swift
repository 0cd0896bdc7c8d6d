import Crypto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
import WauseBinary
import WauseCrypto
import WauseProtocol
@testable import WauseSim
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// wause-sim as the media server: `media_conn` names its HTTPS host, uploads are checked against
/// the auth it handed out and the token (whatsmeow upload.go), downloads by direct path
/// (whatsmeow download.go) come back byte for byte over real TLS that trusts `DIR/media-ca.pem`,
/// and an expired blob answers 410.
@Suite struct MediaServerTests {
    /// One HTTPS request to the media host, trusting only `caFile` (nil: the system's roots).
    static func https(port: Int, _ method: HTTPMethod, _ uri: String, body: [UInt8] = [], caFile: String?) async throws
        -> (status: Int, body: [UInt8]) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No server name: the certificate is checked against the IP address dialled.
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let headers: HTTPHeaders = ["Host": "127.0.0.1:\(port)", "Content-Length": String(body.count),
                                        "Origin": "https://web.whatsapp.com"]
            try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)))
            if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            try await outbound.write(.end(nil))
            var status = 0
            var received: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(let buffer): received += buffer.readableBytesView
                case .end: return (status, received)
                }
            }
            return (status, received)
        }
    }

    /// whatsmeow's token: URL-safe base64 with padding of SHA-256(body).
    static func token(_ body: [UInt8]) -> String {
        String(Base64.encode(Array(SHA256.hash(data: body))).map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Go's url.QueryEscape for the characters base64 holds.
    static func queryEscape(_ text: String) -> String {
        text.map { $0 == "+" ? "%2B" : $0 == "/" ? "%2F" : $0 == "=" ? "%3D" : String($0) }.joined()
    }

    static func blobCount(_ setup: SimSetup) -> Int {
        var count = 0
        for folder in ["/media", "/media/incoming"] {
            guard let dir = opendir(setup.directory.path + folder) else { continue }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name.hasSuffix(".enc") || folder.hasSuffix("incoming") && name != "." && name != ".." { count += 1 }
            }
            closedir(dir)
        }
        return count
    }

    @Test func mediaConnNamesTheHostAndAnUploadComesBackByteForByte() async throws {
        let setup = try await SimSetup()
        let companion = try await setup.loggedInCompanion(phone: "15550001111")
        defer { companion.close() }
        let port = setup.simulator.mediaPort
        #expect(setup.simulator.mediaURL == "https://127.0.0.1:\(port)")
        let answer = try await companion.query("w:m", "set", [Node(tag: "media_conn")])
        let conn = try MediaConnStanzas.MediaConn(parsing: answer)
        #expect(conn.hosts.map(\.hostname) == ["127.0.0.1:\(port)"] && conn.ttl > 0 && conn.authTTL >= conn.ttl && !conn.auth.isEmpty)
        let ca = setup.directory.path + "/media-ca.pem"

        let body = SystemRandom.bytes(300_000)
        let token = MediaServerTests.token(body)
        let upload = try await MediaServerTests.https(
            port: port, .POST, "/mms/image/\(token)?auth=\(MediaServerTests.queryEscape(conn.auth))&token=\(token)", body: body, caFile: ca)
        #expect(upload.status == 200)
        let json = try JSONValue.parse(bytes: upload.body)
        let directPath = try #require(json["direct_path"]?.stringValue)
        #expect(directPath.hasPrefix("/") && directPath.contains("?"))
        #expect(json["url"]?.stringValue == setup.simulator.mediaURL + directPath)

        // whatsmeow download.go: the direct path with &hash=…&mms-type=…&__wa-mms= appended.
        let download = try await MediaServerTests.https(
            port: port, .GET, directPath + "&hash=\(token)&mms-type=image&__wa-mms=", caFile: ca)
        #expect(download.status == 200 && download.body == body)

        // Expired by the admin API: 410 from then on; a path never issued: 404.
        let expired = await admin(setup.simulator, "DELETE", "/media?direct_path=\(directPath)")
        #expect(expired.status == 200 && expired.json["expired"] == true)
        #expect(try await MediaServerTests.https(port: port, .GET, directPath + "&mms-type=image", caFile: ca).status == 410)
        #expect(await admin(setup.simulator, "DELETE", "/media?direct_path=/v/t62.7118-24/\(String(repeating: "0", count: 32)).enc").status == 404)
        #expect(await admin(setup.simulator, "DELETE", "/media?direct_path=/etc/passwd").status == 400)
        #expect(try await MediaServerTests.https(port: port, .GET, "/v/t62.7118-24/\(String(repeating: "a", count: 32)).enc?x=1",
                                                 caFile: ca).status == 404)
        await setup.close()
    }

    @Test func wrongAuthOrTokenIsRefusedAndNothingIsStored() async throws {
        let setup = try await SimSetup()
        let companion = try await setup.loggedInCompanion(phone: "15550001111")
        defer { companion.close() }
        let port = setup.simulator.mediaPort
        let ca = setup.directory.path + "/media-ca.pem"
        let conn = try MediaConnStanzas.MediaConn(parsing: try await companion.query("w:m", "set", [Node(tag: "media_conn")]))
        let body = SystemRandom.bytes(10_000)
        let token = MediaServerTests.token(body)
        let before = MediaServerTests.blobCount(setup)

        let noAuth = try await MediaServerTests.https(port: port, .POST, "/mms/image/\(token)?token=\(token)", body: body, caFile: ca)
        #expect(noAuth.status == 401)
        let wrongAuth = try await MediaServerTests.https(port: port, .POST, "/mms/image/\(token)?auth=bm90LWlzc3VlZA%3D%3D&token=\(token)",
                                                         body: body, caFile: ca)
        #expect(wrongAuth.status == 401)
        #expect(try JSONValue.parse(bytes: wrongAuth.body)["code"]?.stringValue == "unauthorized")
        let otherToken = MediaServerTests.token(body + [0])
        let auth = MediaServerTests.queryEscape(conn.auth)
        let wrongToken = try await MediaServerTests.https(port: port, .POST, "/mms/image/\(otherToken)?auth=\(auth)&token=\(otherToken)",
                                                          body: body, caFile: ca)
        #expect(wrongToken.status == 400)
        let mismatched = try await MediaServerTests.https(port: port, .POST, "/mms/image/\(token)?auth=\(auth)&token=\(otherToken)",
                                                          body: body, caFile: ca)
        #expect(mismatched.status == 400)
        #expect(try await MediaServerTests.https(port: port, .POST, "/mms/nonsense/\(token)?auth=\(auth)", body: body, caFile: ca).status == 404)
        #expect(MediaServerTests.blobCount(setup) == before)

        // Baileys' form: the token without padding, still accepted.
        let unpadded = String(token.prefix { $0 != "=" })
        #expect(try await MediaServerTests.https(port: port, .POST, "/mms/document/\(unpadded)?auth=\(auth)&token=\(unpadded)",
                                                 body: body, caFile: ca).status == 200)
        #expect(MediaServerTests.blobCount(setup) == before + 1)
        await setup.close()
    }

    /// whatsmeow upload.go DeleteMedia: `DELETE /mms/<type>/<token>?token&d_md&auth` deletes a blob
    /// for the account it belongs to (here its uploader's): 401 without a valid auth, 403 for
    /// another account, 400 for a token that is not the blob's, 404 for a blob unknown or gone.
    @Test func anOwnerDeletesItsBlobAndNobodyElseDoes() async throws {
        let setup = try await SimSetup()
        let owner = try await setup.loggedInCompanion(phone: "15550001111")
        let other = try await setup.loggedInCompanion(phone: "15550002222")
        defer { owner.close(); other.close() }
        let port = setup.simulator.mediaPort
        let ca = setup.directory.path + "/media-ca.pem"
        let ownerAuth = try MediaConnStanzas.MediaConn(parsing: try await owner.query("w:m", "set", [Node(tag: "media_conn")])).auth
        let otherAuth = try MediaConnStanzas.MediaConn(parsing: try await other.query("w:m", "set", [Node(tag: "media_conn")])).auth
        let body = SystemRandom.bytes(20_000)
        let token = MediaServerTests.token(body)
        let upload = try await MediaServerTests.https(
            port: port, .POST, "/mms/md-msg-hist/\(token)?auth=\(MediaServerTests.queryEscape(ownerAuth))&token=\(token)", body: body, caFile: ca)
        let directPath = try #require(try JSONValue.parse(bytes: upload.body)["direct_path"]?.stringValue)
        let hash = Array(SHA256.hash(data: body))
        func delete(auth: String, fileEncSha256: [UInt8] = hash, path: String = directPath) async throws -> (status: Int, code: String?) {
            let answer = try await MediaServerTests.https(
                port: port, .DELETE, MediaURLs.deletePathAndQuery(type: .history, directPath: path, fileEncSha256: fileEncSha256, auth: auth),
                caFile: ca)
            return (answer.status, (try? JSONValue.parse(bytes: answer.body))?["code"]?.stringValue)
        }

        #expect(try await delete(auth: "bm90LWlzc3VlZA==").status == 401)
        #expect(try await delete(auth: otherAuth) == (403, "forbidden"))
        #expect(try await delete(auth: ownerAuth, fileEncSha256: Array(SHA256.hash(data: body + [1]))) == (400, "invalid_request"))
        #expect(try await MediaServerTests.https(port: port, .GET, directPath + "&mms-type=md-msg-hist", caFile: ca).status == 200)
        #expect(try await delete(auth: ownerAuth).status == 200)
        // Gone: downloads and a second delete answer 404.
        #expect(try await MediaServerTests.https(port: port, .GET, directPath + "&mms-type=md-msg-hist", caFile: ca).status == 404)
        #expect(try await delete(auth: ownerAuth) == (404, "not_found"))
        #expect(try await delete(auth: ownerAuth, path: "/v/t62.7118-24/\(String(repeating: "b", count: 32)).enc").status == 404)
        // A deletion fault (POST /media/faults on: delete) is played on the next one only.
        setup.simulator.media.store.faults.add(.init(direction: .delete, action: .status(503)), count: 1)
        #expect(try await delete(auth: ownerAuth).status == 503)
        #expect(setup.simulator.media.store.faults.json["deletes_begun"]?.intValue == 7)
        await setup.close()
    }

    @Test func aClientThatDoesNotTrustTheCAIsRefusedTheHandshake() async throws {
        let setup = try await SimSetup()
        await #expect(throws: (any Error).self) {
            _ = try await MediaServerTests.https(port: setup.simulator.mediaPort, .GET, "/v/t62.7118-24/x.enc?a", caFile: nil)
        }
        // The CA is a PEM certificate; no private key is written anywhere under the data directory.
        let pem = try #require(String(validatingUTF8: try MediaServerTests.file(setup.directory.path + "/media-ca.pem")))
        #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----") && !pem.contains("PRIVATE KEY"))
        await setup.close()
    }

    static func file(_ path: String) throws -> [CChar] {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var bytes: [CChar] = []
        var chunk = [CChar](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes + [0]
    }
}
