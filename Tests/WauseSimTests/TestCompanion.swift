import SwiftProtobuf
import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
import WauseHTTP
import WauseProto
@testable import WauseSim
import WauseTestSupport
import WauseTransport

import WauseSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A small companion written for these tests from whatsmeow's sources (not the engine, which
/// is tested against the simulator elsewhere): it dials, runs the Noise initiator, sends a
/// registration or login payload (store/clientpayload.go) and checks and answers pair-success (pair.go handlePair) itself.
final class TestCompanion: @unchecked Sendable {
    let noiseKey = Curve25519KeyPair.generate(random: SystemRandom.bytes)
    let identityKey = Curve25519KeyPair.generate(random: SystemRandom.bytes)
    let signedPreKey = Curve25519KeyPair.generate(random: SystemRandom.bytes)
    let registrationID = UInt32.random(in: 1...UInt32.max)
    var advSecret = SystemRandom.bytes(32)
    private(set) var socket: WireSocket!
    private var counter = 0

    /// Opens a connection with a registration payload and returns the pair-device refs.
    func register(_ simulator: Simulator) async throws -> (id: String, refs: [String]) {
        try await connect(simulator, payload: registrationPayload())
        let pairDevice = try await expectNode()
        let refs = pairDevice.child("pair-device")?.children("ref").compactMap(\.text) ?? []
        #expect(refs.count == 6)
        let id = try #require(pairDevice[attribute: "id"])
        try send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        return (id, refs)
    }

    /// Opens a connection with the login payload of a linked device.
    func login(_ simulator: Simulator, phone: String, device: Int) async throws {
        var payload = WAWebProtobufsWa6_ClientPayload()
        payload.username = UInt64(phone)!
        payload.device = UInt32(device)
        payload.passive = true
        payload.pull = true
        try await connect(simulator, payload: try payload.serializedBytes())
    }

    func connect(_ simulator: Simulator, payload: [UInt8]) async throws {
        let connection = try await WebSocketClient().connect(to: "ws://127.0.0.1:\(simulator.chatPort)/ws/chat")
        let socket = WireSocket(connection: connection, role: .client)
        var initiator = NoiseHandshake.Initiator(staticKey: noiseKey, ephemeralKey: Curve25519KeyPair.generate(random: SystemRandom.bytes))
        try socket.send(frame: try initiator.writeClientHello())
        let hello = try #require(try await socket.nextFrame())
        _ = try initiator.readServerHello(hello, verifier: ServerCertificateVerifier(rootPublicKey: simulator.rootKey.publicKey),
                                          now: UInt64(Environment.live.now().seconds))
        try socket.send(frame: try initiator.writeClientFinish(payload: payload))
        socket.encrypt(with: try initiator.transportCipher())
        self.socket = socket
    }

    func registrationPayload() throws -> [UInt8] {
        var pairing = WAWebProtobufsWa6_ClientPayload.DevicePairingRegistrationData()
        pairing.eRegid = Data([UInt8(registrationID >> 24 & 0xFF), UInt8(registrationID >> 16 & 0xFF), UInt8(registrationID >> 8 & 0xFF), UInt8(registrationID & 0xFF)])
        pairing.eKeytype = Data([5])
        pairing.eIdent = Data(identityKey.publicKey)
        pairing.eSkeyID = Data([0, 0, 1])
        pairing.eSkeyVal = Data(signedPreKey.publicKey)
        pairing.eSkeySig = Data(try XEdDSA.sign(message: [5] + signedPreKey.publicKey, privateKey: identityKey.privateKey,
                                                random: SystemRandom.bytes(64)))
        var props = WACompanionReg_DeviceProps()
        props.os = "Sim Test"
        props.platformType = .chrome
        pairing.deviceProps = try props.serializedBytes() as Data
        var payload = WAWebProtobufsWa6_ClientPayload()
        payload.passive = false
        payload.pull = false
        payload.devicePairingData = pairing
        return try payload.serializedBytes()
    }

    func qr(ref: String, noise: [UInt8]? = nil, identity: [UInt8]? = nil) -> String {
        "https://wa.me/settings/linked_devices#\(ref),\(Base64.encode(noise ?? noiseKey.publicKey)),"
            + "\(Base64.encode(identity ?? identityKey.publicKey)),\(Base64.encode(advSecret)),1"
    }

    func nextID() -> String {
        counter += 1
        return "test.1-\(counter)"
    }

    func send(_ node: Node) throws { try socket.send(node: node) }

    /// The next stanza, or nil when the server closed the connection; 10 s of real time at most
    /// (a guard against hangs, not a timing assertion).
    func next() async throws -> Node? {
        let socket = self.socket!
        return try await withThrowingTaskGroup(of: Node?.self) { group in
            group.addTask { try await socket.nextNode() }
            group.addTask {
                try await Task.sleep(nanoseconds: 10_000_000_000)
                throw WauseError(.timeout, "no stanza within 10 s")
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    func expectNode() async throws -> Node { try #require(try await next()) }

    /// Sends an iq and returns the next stanza (the sim answers in order).
    func query(_ xmlns: String, _ type: String, _ children: [Node]) async throws -> Node {
        let id = nextID()
        try send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": .text(type), "id": .text(id),
                                              "xmlns": .text(xmlns)], children: children))
        let reply = try await expectNode()
        #expect(reply[attribute: "id"] == id)
        return reply
    }

    /// Whatever arrives next is the answer to a ping sent now: nothing else was queued.
    func expectNothingPending() async throws {
        let reply = try await query("w:p", "get", [])
        #expect(reply[attribute: "type"] == "result")
    }

    // MARK: pair-success (whatsmeow pair.go handlePair), the companion's checks

    enum PairCheck: Error, Equatable { case hmacMismatch, signatureMismatch }

    struct PairSuccess {
        let id: String
        let jid: JID?
        let lid: JID?
        let platform: String?
        let container: WAAdv_ADVSignedDeviceIdentityHMAC
        let signed: WAAdv_ADVSignedDeviceIdentity
        let details: WAAdv_ADVDeviceIdentity
    }

    func parsePairSuccess(_ node: Node) throws -> PairSuccess {
        #expect(node.tag == "iq")
        #expect(node.jid("from") == .whatsAppServer)
        #expect(node[attribute: "type"] == "set")
        #expect(node[attribute: "t"] != nil)
        let success = try #require(node.child("pair-success"))
        let container = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: try #require(success.child("device-identity")?.bytes))
        let signed = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: Array(container.details))
        let details = try WAAdv_ADVDeviceIdentity(serializedBytes: Array(signed.details))
        return PairSuccess(id: try #require(node[attribute: "id"]), jid: success.child("device")?.jid("jid"),
                           lid: success.child("device")?.jid("lid"), platform: success.child("platform")?[attribute: "name"],
                           container: container, signed: signed, details: details)
    }

    /// whatsmeow's handlePair steps 1–3.
    func check(_ pair: PairSuccess) throws(PairCheck) {
        let mac = HMAC.sha256(key: advSecret, message: Array(pair.container.details))
        guard mac == Array(pair.container.hmac) else { throw .hmacMismatch }
        let message = [6, 0] + Array(pair.signed.details) + identityKey.publicKey
        guard pair.signed.accountSignatureKey.count == 32, pair.signed.accountSignature.count == 64,
            XEdDSA.verify(signature: Array(pair.signed.accountSignature), message: message,
                          publicKey: Array(pair.signed.accountSignatureKey))
        else { throw .signatureMismatch }
    }

    /// Step 4 and 7: the device signature and the pair-device-sign result.
    func pairDeviceSign(_ pair: PairSuccess, tamperSignature: Bool = false) throws -> Node {
        var signed = pair.signed
        var signature = try XEdDSA.sign(message: [6, 1] + Array(signed.details) + identityKey.publicKey + Array(signed.accountSignatureKey),
                                        privateKey: identityKey.privateKey, random: SystemRandom.bytes(64))
        if tamperSignature { signature[5] ^= 0x40 }
        signed.deviceSignature = Data(signature)
        signed.clearAccountSignatureKey()
        return Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(pair.id)], children: [
            Node(tag: "pair-device-sign", children: [
                Node(tag: "device-identity", attributes: ["key-index": .text(String(pair.details.keyIndex))],
                     bytes: try signed.serializedBytes()),
            ]),
        ])
    }

    func pairError(_ pair: PairSuccess, code: Int, text: String) -> Node {
        Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "error", "id": .text(pair.id)],
             children: [Node(tag: "error", attributes: ["code": .text(String(code)), "text": .text(text)])])
    }

    /// `<stream:error code=515/>` and then the close.
    func expectRestartAndClose() async throws {
        let restart = try await expectNode()
        #expect(restart.tag == "stream:error")
        #expect(restart[attribute: "code"] == "515")
        // The server leaves the close to the client, which closes as whatsmeow does on 515.
        close()
        #expect(try await next() == nil)
    }

    func close() { socket?.close() }

    /// Reads and writes on `socket` from now on (a connection another companion opened).
    func adopt(_ socket: WireSocket) { self.socket = socket }
}

/// The admin API called as the HTTP server calls it, from a plain thread (it blocks while the
/// phone waits for the companion).
func admin(_ simulator: Simulator, _ method: String, _ path: String, _ body: JSONValue? = nil) async -> (status: Int, json: JSONValue) {
    // A query string is split off as the HTTP server does (`/inbox?after=3`).
    let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
    var query: [String: String] = [:]
    for pair in parts.count > 1 ? parts[1].split(separator: "&") : [] {
        let field = pair.split(separator: "=", maxSplits: 1).map(String.init)
        query[field[0]] = field.count > 1 ? field[1] : ""
    }
    let request = HTTPRequest(method: method, path: parts.first ?? path, query: query, body: body.map { Array($0.serialized.utf8) } ?? [])
    let api = simulator.adminAPI
    let response = await onPlainThread { api.handle(request) }
    guard case .bytes(let bytes) = response.body, let json = try? JSONValue.parse(bytes: bytes) else { return (response.status, .null) }
    return (response.status, json)
}

/// An admin call running while the test plays the companion.
func adminTask(_ simulator: Simulator, _ method: String, _ path: String, _ body: JSONValue) -> Task<(status: Int, json: JSONValue), Never> {
    Task { await admin(simulator, method, path, body) }
}

/// A simulator on free ports with its timers in virtual time (sleeps only end when the test
/// advances them) and a fresh data directory.
struct SimSetup {
    let directory = TemporaryDirectory(prefix: "wause-sim-linking")
    let timers = VirtualTimers(start: Environment.live.now())
    let simulator: Simulator

    init(requirePrivacyToken: Bool = false) async throws {
        var settings = SimSettings(dataDirectory: directory.path)
        settings.requirePrivacyToken = requirePrivacyToken
        settings.port = 0
        settings.adminPort = 0
        let timers = self.timers
        let environment = Environment(now: { timers.now }, randomBytes: Environment.live.randomBytes,
                                      sleep: { try await timers.sleep($0) }, dial: Environment.live.dial)
        simulator = try await Simulator.start(settings: settings, environment: environment, logger: Logger(label: "sim", level: .error))
    }

    /// A new account; answers its phone number.
    func account(_ phone: String = "15550001111") async throws -> SimAccount {
        try simulator.state.createAccount(phone: phone, pushName: "Phone")
    }

    func close() async { await simulator.stop() }

    /// The start of most QR-linking tests: an account (15550001111), a companion registered with
    /// this simulator, and the phone's scan of its ref `index` under way (`extra` joins the scan's
    /// body, e.g. `corrupt`). The test plays the companion from there and awaits `scan` itself.
    func scanning(ref index: Int = 0, extra: JSONObject = [:]) async throws
        -> (account: SimAccount, companion: TestCompanion, refs: [String], scan: Task<(status: Int, json: JSONValue), Never>) {
        let account = try await self.account()
        let companion = TestCompanion()
        let (_, refs) = try await companion.register(simulator)
        var body: JSONObject = ["qr": .string(companion.qr(ref: refs[index]))]
        for (key, value) in extra { body[key] = value }
        let scan = adminTask(simulator, "POST", "/accounts/\(account.phone)/scan", .object(body))
        return (account, companion, refs, scan)
    }
}
