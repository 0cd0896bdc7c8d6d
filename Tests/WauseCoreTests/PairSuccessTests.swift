import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
import WauseProto
import WauseSupport
import WauseProtocol
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A phone-side `pair-success` (whatsmeow pair.go handlePair) built in the test from the protobufs,
/// with the prefixes written out rather than taken from ADVIdentity, so the engine's verification
/// is checked against the reference's formulas and not against itself.
struct TestPhone {
    var accountKey: Curve25519KeyPair
    var deviceJID = "15551234567:7@s.whatsapp.net"
    var lidJID: String? = "98765432101234:7@lid"
    var platform = "android"
    var businessName: String?
    var keyIndex: UInt32 = 3
    /// ADVSignedDeviceIdentityHMAC.accountType: HOSTED puts 06 05 before the HMAC input.
    var hostedContainer = false
    /// ADVDeviceIdentity.deviceType: HOSTED makes the account signature prefix 06 05.
    var hostedDevice = false

    init(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        accountKey = Curve25519KeyPair.generate(random: { rng.bytes($0) })
    }

    /// ADVDeviceIdentity bytes.
    var deviceDetails: [UInt8] {
        var device = WAAdv_ADVDeviceIdentity()
        device.rawID = 7
        device.timestamp = 1_763_000_000
        device.keyIndex = keyIndex
        device.accountType = hostedDevice ? .hosted : .e2Ee
        device.deviceType = hostedDevice ? .hosted : .e2Ee
        return try! device.serializedBytes()
    }

    /// `06 00|06 05 ‖ details ‖ companion identity key`, spelled out from whatsmeow pair.go handlePair (`AdvAccountSignaturePrefix`).
    func accountMessage(companionKey: [UInt8]) -> [UInt8] {
        (hostedDevice ? [0x06, 0x05] : [0x06, 0x00]) + deviceDetails + companionKey
    }

    /// ADVSignedDeviceIdentity bytes, signed by `signer` (the account key unless a test forges).
    func signedIdentity(companionKey: [UInt8], signer: Curve25519KeyPair? = nil, claimedKey: [UInt8]? = nil,
                        message: [UInt8]? = nil) -> [UInt8] {
        var signed = WAAdv_ADVSignedDeviceIdentity()
        signed.details = Data(deviceDetails)
        signed.accountSignatureKey = Data(claimedKey ?? accountKey.publicKey)
        signed.accountSignature = Data(try! XEdDSA.sign(message: message ?? accountMessage(companionKey: companionKey),
                                                        privateKey: (signer ?? accountKey).privateKey,
                                                        random: [UInt8](repeating: 0x5A, count: XEdDSA.randomLength)))
        return try! signed.serializedBytes()
    }

    /// ADVSignedDeviceIdentityHMAC bytes: HMAC-SHA256(advSecret, [06 05 if hosted] ‖ details).
    func container(details: [UInt8], advSecret: [UInt8], hmacHosted: Bool? = nil) -> [UInt8] {
        var container = WAAdv_ADVSignedDeviceIdentityHMAC()
        container.details = Data(details)
        container.hmac = Data(HMAC.sha256(key: advSecret, message: ((hmacHosted ?? hostedContainer) ? [0x06, 0x05] : []) + details))
        container.accountType = hostedContainer ? .hosted : .e2Ee
        return try! container.serializedBytes()
    }

    /// The `<pair-success>` element (what `PairSuccess.verify` takes) with the given
    /// `<device-identity>` content.
    func pairSuccess(deviceIdentity: [UInt8]?) -> Node {
        var children: [Node] = []
        if let deviceIdentity { children.append(Node(tag: "device-identity", bytes: deviceIdentity)) }
        var deviceAttributes: Attributes = ["jid": .jid(JID(deviceJID)!)]
        if let lidJID { deviceAttributes = ["jid": .jid(JID(deviceJID)!), "lid": .jid(JID(lidJID)!)] }
        children.append(Node(tag: "device", attributes: deviceAttributes))
        children.append(Node(tag: "platform", attributes: ["name": .text(platform)]))
        if let businessName { children.append(Node(tag: "biz", attributes: ["name": .text(businessName)])) }
        return Node(tag: "pair-success", children: children)
    }

    /// An honest pair-success for `companion` under `advSecret`.
    func pairSuccess(for companion: DeviceIdentity, advSecret: [UInt8]) -> Node {
        pairSuccess(deviceIdentity: container(details: signedIdentity(companionKey: companion.identityKey.publicKey), advSecret: advSecret))
    }
}

/// Deterministic randomness for code that takes `(Int) -> [UInt8]`.
final class SeededRandom: @unchecked Sendable {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    func bytes(_ count: Int) -> [UInt8] { generator.bytes(count) }
}

@Suite struct PairSuccessTests {
    let random = SeededRandom(seed: 0x50)
    let companion: DeviceIdentity
    let advSecret: [UInt8]

    init() throws {
        companion = try DeviceIdentity.generate(random: random.bytes)
        advSecret = random.bytes(32)
    }

    func verify(_ node: Node, advSecret: [UInt8]? = nil) throws(PairSuccess.Rejection) -> PairSuccess.Link {
        try PairSuccess.verify(node, identity: companion, advSecret: advSecret ?? self.advSecret, random: random.bytes)
    }

    func rejection(_ node: Node, advSecret: [UInt8]? = nil) -> PairSuccess.Rejection? {
        do {
            _ = try verify(node, advSecret: advSecret)
            return nil
        } catch {
            return error
        }
    }

    @Test func theMessagePrefixesAreTheReferenceOnes() {
        let details: [UInt8] = [1, 2, 3], companionKey = [UInt8](repeating: 4, count: 32), accountKey = [UInt8](repeating: 5, count: 32)
        #expect(ADVIdentity.accountSignatureMessage(deviceIdentity: details, companionIdentityKey: companionKey, hosted: false)
            == [6, 0] + details + companionKey)
        #expect(ADVIdentity.accountSignatureMessage(deviceIdentity: details, companionIdentityKey: companionKey, hosted: true)
            == [6, 5] + details + companionKey)
        #expect(ADVIdentity.deviceSignatureMessage(deviceIdentity: details, companionIdentityKey: companionKey, accountSignatureKey: accountKey)
            == [6, 1] + details + companionKey + accountKey)
        #expect(ADVIdentity.hmac(signedIdentity: details, hosted: false, advSecret: advSecret) == HMAC.sha256(key: advSecret, message: details))
        #expect(ADVIdentity.hmac(signedIdentity: details, hosted: true, advSecret: advSecret)
            == HMAC.sha256(key: advSecret, message: [6, 5] + details))
    }

    @Test func anHonestPairSuccessVerifiesAndWeCountersign() throws {
        var phone = TestPhone(seed: 1)
        phone.businessName = "Corner Shop"
        let link = try verify(phone.pairSuccess(for: companion, advSecret: advSecret))
        #expect(link.jid == JID("15551234567:7@s.whatsapp.net"))
        #expect(link.lid == JID("98765432101234:7@lid"))
        #expect(link.platform == "android")
        #expect(link.businessName == "Corner Shop")
        #expect(link.accountSignatureKey == phone.accountKey.publicKey)
        #expect(link.keyIndex == 3)

        // The stored identity keeps the phone's parts and adds our device signature over
        // 06 01 ‖ details ‖ our identity key ‖ account key, made with our identity key.
        let signed = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: link.signedIdentity)
        #expect([UInt8](signed.details) == phone.deviceDetails)
        #expect([UInt8](signed.accountSignatureKey) == phone.accountKey.publicKey)
        let original = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: phone.signedIdentity(companionKey: companion.identityKey.publicKey))
        #expect(signed.accountSignature == original.accountSignature)
        let deviceSignature = [UInt8](signed.deviceSignature)
        #expect(deviceSignature.count == 64)
        let deviceMessage: [UInt8] = [0x06, 0x01] + phone.deviceDetails + companion.identityKey.publicKey + phone.accountKey.publicKey
        #expect(XEdDSA.verify(signature: deviceSignature, message: deviceMessage, publicKey: companion.identityKey.publicKey))
        #expect(!XEdDSA.verify(signature: deviceSignature, message: deviceMessage, publicKey: phone.accountKey.publicKey))
        #expect(!XEdDSA.verify(signature: deviceSignature, message: [0x06, 0x05] + deviceMessage.dropFirst(2),
                               publicKey: companion.identityKey.publicKey))
    }

    @Test func withoutLIDOrBusinessName() throws {
        var phone = TestPhone(seed: 2)
        phone.lidJID = nil
        phone.platform = "iphone"
        let link = try verify(phone.pairSuccess(for: companion, advSecret: advSecret))
        #expect(link.lid == nil)
        #expect(link.businessName == nil)
        #expect(link.platform == "iphone")
    }

    @Test func signReplyCarriesTheKeyIndexAndDropsTheAccountKey() throws {
        var phone = TestPhone(seed: 3)
        phone.keyIndex = 42
        let link = try verify(phone.pairSuccess(for: companion, advSecret: advSecret))
        let reply = PairSuccess.signReply(id: "pair-7", link: link)
        #expect(reply.tag == "iq")
        #expect(reply[attribute: "type"] == "result")
        #expect(reply[attribute: "id"] == "pair-7")
        #expect(reply.attributes["to"]?.jid == JID.whatsAppServer)
        #expect(reply.children.map(\.tag) == ["pair-device-sign"])
        let identityNode = try #require(reply.child(path: "pair-device-sign", "device-identity"))
        #expect(identityNode[attribute: "key-index"] == "42")
        let sent = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: try #require(identityNode.bytes))
        #expect(!sent.hasAccountSignatureKey)
        let stored = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: link.signedIdentity)
        #expect(sent.details == stored.details)
        #expect(sent.accountSignature == stored.accountSignature)
        #expect(sent.deviceSignature == stored.deviceSignature && !sent.deviceSignature.isEmpty)
        // What went out is exactly the stored identity minus field 2.
        var expected = stored
        expected.clearAccountSignatureKey()
        #expect(identityNode.bytes == (try expected.serializedBytes() as [UInt8]))
        // It survives the wire codec.
        #expect(try Node(frame: try reply.encodedFrame()) == reply)
    }

    @Test func aTamperedHMACIsAnHMACMismatch() throws {
        let phone = TestPhone(seed: 4)
        let details = phone.signedIdentity(companionKey: companion.identityKey.publicKey)
        var container = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: phone.container(details: details, advSecret: advSecret))
        container.hmac[5] ^= 0x01
        #expect(rejection(phone.pairSuccess(deviceIdentity: try container.serializedBytes())) == .hmacMismatch)
        // A truncated or missing HMAC.
        container.hmac = container.hmac.prefix(31)
        #expect(rejection(phone.pairSuccess(deviceIdentity: try container.serializedBytes())) == .hmacMismatch)
        container.clearHmac()
        #expect(rejection(phone.pairSuccess(deviceIdentity: try container.serializedBytes())) == .hmacMismatch)
        // Details changed after the HMAC was made.
        var altered = details
        altered[altered.count - 1] ^= 0x01
        var swapped = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: phone.container(details: details, advSecret: advSecret))
        swapped.details = Data(altered)
        #expect(rejection(phone.pairSuccess(deviceIdentity: try swapped.serializedBytes())) == .hmacMismatch)
        // Another ADV secret (the QR's after a pairing-code exchange replaced it, or vice versa).
        #expect(rejection(phone.pairSuccess(for: companion, advSecret: advSecret), advSecret: random.bytes(32)) == .hmacMismatch)
    }

    @Test func hostedAccountsPrefixTheHMACInputWith0605() throws {
        var phone = TestPhone(seed: 5)
        phone.hostedContainer = true
        let details = phone.signedIdentity(companionKey: companion.identityKey.publicKey)
        _ = try verify(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret)))
        // Hosted container, HMAC made without the prefix: mismatch.
        #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret, hmacHosted: false)))
            == .hmacMismatch)
        // E2EE container, HMAC made with the prefix: mismatch.
        phone.hostedContainer = false
        #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret, hmacHosted: true)))
            == .hmacMismatch)
    }

    @Test func hostedDevicesAreSignedWith0605() throws {
        var phone = TestPhone(seed: 6)
        phone.hostedDevice = true
        phone.hostedContainer = true
        let link = try verify(phone.pairSuccess(for: companion, advSecret: advSecret))
        // Our countersignature still uses 06 01 (both reference clients do).
        let signed = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: link.signedIdentity)
        #expect(XEdDSA.verify(signature: [UInt8](signed.deviceSignature),
                              message: [0x06, 0x01] + phone.deviceDetails + companion.identityKey.publicKey + phone.accountKey.publicKey,
                              publicKey: companion.identityKey.publicKey))
        // A hosted device signed with the E2EE prefix does not verify.
        let wrongPrefix = [0x06, 0x00] + phone.deviceDetails + companion.identityKey.publicKey
        let details = phone.signedIdentity(companionKey: companion.identityKey.publicKey, message: wrongPrefix)
        #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret))) == .signatureMismatch)
    }

    @Test func anE2EEDeviceSignedWithTheHostedPrefixIsASignatureMismatch() {
        let phone = TestPhone(seed: 7)
        let message = [0x06, 0x05] + phone.deviceDetails + companion.identityKey.publicKey
        let details = phone.signedIdentity(companionKey: companion.identityKey.publicKey, message: message)
        #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret))) == .signatureMismatch)
    }

    @Test func aWrongAccountSignatureIsASignatureMismatch() throws {
        let phone = TestPhone(seed: 8)
        let intruder = Curve25519KeyPair.generate(random: random.bytes)
        let ownKey = companion.identityKey.publicKey
        let cases: [(String, [UInt8])] = [
            // Signed by another key, claiming the account key.
            ("other signer", phone.signedIdentity(companionKey: ownKey, signer: intruder)),
            // Signed by the account key but naming another key as the signer.
            ("claimed key not the signer", phone.signedIdentity(companionKey: ownKey, claimedKey: intruder.publicKey)),
            // Signed for another companion.
            ("other companion", phone.signedIdentity(companionKey: intruder.publicKey)),
            // A 33-byte 05-prefixed account key (whatsmeow requires exactly 32).
            ("33-byte key", phone.signedIdentity(companionKey: ownKey, claimedKey: [0x05] + phone.accountKey.publicKey)),
        ]
        for (name, details) in cases {
            #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret))) == .signatureMismatch,
                    "\(name)")
        }
        // A flipped signature byte, a short signature, no signature.
        var signed = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: phone.signedIdentity(companionKey: ownKey))
        let mutations: [(inout WAAdv_ADVSignedDeviceIdentity) -> Void] = [
            { $0.accountSignature[10] ^= 0x04 },
            { $0.accountSignature = $0.accountSignature.prefix(63) },
            { $0.clearAccountSignature() },
            { $0.clearAccountSignatureKey() },
        ]
        for mutate in mutations {
            var copy = signed
            mutate(&copy)
            let details: [UInt8] = try copy.serializedBytes()
            #expect(rejection(phone.pairSuccess(deviceIdentity: phone.container(details: details, advSecret: advSecret))) == .signatureMismatch)
        }
        // An honest one from the same phone still verifies (the cases above fail for their reason).
        signed = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: phone.signedIdentity(companionKey: ownKey))
        _ = try verify(phone.pairSuccess(deviceIdentity: phone.container(details: try signed.serializedBytes(), advSecret: advSecret)))
    }

    @Test func malformedInputIsMalformedNeverACrash() throws {
        var phone = TestPhone(seed: 9)
        let ownKey = companion.identityKey.publicKey
        func isMalformed(_ node: Node) -> Bool {
            if case .malformed = rejection(node) { return true }
            return false
        }
        // No device-identity; one that is not a protobuf.
        #expect(isMalformed(phone.pairSuccess(deviceIdentity: nil)))
        #expect(isMalformed(phone.pairSuccess(deviceIdentity: [0xFF, 0xFF, 0xFF])))
        #expect(isMalformed(Node(tag: "pair-success", children: [Node(tag: "device-identity", children: [])])))
        // An authentic HMAC over bytes that are not an ADVSignedDeviceIdentity…
        #expect(isMalformed(phone.pairSuccess(deviceIdentity: phone.container(details: [0x0A, 0x05, 0x01], advSecret: advSecret))))
        // …or whose details are not an ADVDeviceIdentity.
        var badInner = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: phone.signedIdentity(companionKey: ownKey))
        badInner.details = Data([0x08, 0xFF])
        #expect(isMalformed(phone.pairSuccess(deviceIdentity: phone.container(details: try badInner.serializedBytes(), advSecret: advSecret))))
        // Everything verifies but the device element is missing or not a phone device JID.
        let honest = phone.container(details: phone.signedIdentity(companionKey: ownKey), advSecret: advSecret)
        let noDevice = Node(tag: "pair-success", children: [Node(tag: "device-identity", bytes: honest)])
        #expect(isMalformed(noDevice))
        for jid in ["15551234567@s.whatsapp.net", "98765432101234:7@lid"] {
            phone.deviceJID = jid
            #expect(isMalformed(phone.pairSuccess(deviceIdentity: honest)), "\(jid)")
        }
        let textJID = Node(tag: "pair-success", children: [
            Node(tag: "device-identity", bytes: honest), Node(tag: "device", attributes: ["jid": "not a jid"]),
        ])
        #expect(isMalformed(textJID))
    }

    /// Random corruption of an honest container and random containers: a rejection, unless the
    /// corruption left the container meaning the same thing. The honest container ends with an
    /// explicit `accountType = E2EE` (18 00); dropping it, or turning it into an enum value proto2
    /// does not know (kept as an unknown field), leaves E2EE — whatsmeow reads it the same way.
    @Test func corruptedContainersAreRejectedUnlessTheyMeanTheSame() throws {
        let phone = TestPhone(seed: 10)
        let honest = phone.container(details: phone.signedIdentity(companionKey: companion.identityKey.publicKey), advSecret: advSecret)
        var rng = SplitMix64(seed: 0x51)
        var kinds: [String: Int] = [:]
        for index in 0..<1500 {
            var bytes = honest
            switch index % 3 {
            case 0:
                bytes[rng.next(below: bytes.count)] ^= UInt8(1 << rng.next(below: 8))
            case 1:
                bytes = Array(bytes.prefix(rng.next(below: bytes.count)))
            default:
                bytes = rng.bytes(rng.next(below: 300))
            }
            let outcome = rejection(phone.pairSuccess(deviceIdentity: bytes))
            if outcome == nil {
                let original = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: honest)
                let accepted = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: bytes)
                #expect(accepted.details == original.details && accepted.hmac == original.hmac && accepted.accountType == .e2Ee,
                        "case \(index) verified: \(Hex.encode(bytes))")
                kinds["same meaning", default: 0] += 1
            }
            switch outcome {
            case .hmacMismatch: kinds["hmac", default: 0] += 1
            case .signatureMismatch: kinds["signature", default: 0] += 1
            case .malformed: kinds["malformed", default: 0] += 1
            case nil: break
            }
        }
        #expect(kinds["hmac", default: 0] > 0 && kinds["malformed", default: 0] > 0)
        #expect(kinds["same meaning", default: 0] < 30)
    }

    @Test func anUnknownAccountTypeIsReadAsE2EE() throws {
        let phone = TestPhone(seed: 11)
        let details = phone.signedIdentity(companionKey: companion.identityKey.publicKey)
        // HMAC without the hosted prefix, accountType = 7 (field 3, varint): an unknown enum value.
        var container = try WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: phone.container(details: details, advSecret: advSecret))
        container.clearAccountType()
        let bytes: [UInt8] = try container.serializedBytes() + [0x18, 0x07]
        _ = try verify(phone.pairSuccess(deviceIdentity: bytes))
        // The same container with HOSTED (1) needs the 06 05 prefix.
        #expect(rejection(phone.pairSuccess(deviceIdentity: try container.serializedBytes() + [0x18, 0x01])) == .hmacMismatch)
    }

    @Test func errorRepliesHaveWhatsmeowsShape() {
        let cases: [(PairSuccess.Rejection, String, String)] = [
            (.hmacMismatch, "401", "hmac-mismatch"),
            (.signatureMismatch, "401", "signature-mismatch"),
            (.malformed("x"), "500", "internal-error"),
        ]
        for (rejection, code, text) in cases {
            let reply = PairSuccess.errorReply(id: "pair-9", rejection)
            #expect(reply.tag == "iq")
            #expect(reply[attribute: "type"] == "error")
            #expect(reply[attribute: "id"] == "pair-9")
            #expect(reply.attributes["to"]?.jid == JID.whatsAppServer)
            #expect(reply.children.count == 1)
            let error = reply.child("error")
            #expect(error?[attribute: "code"] == code)
            #expect(error?[attribute: "text"] == text)
            #expect(error?.attributes.count == 2)
        }
    }
}
