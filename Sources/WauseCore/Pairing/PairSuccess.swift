import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal

import WauseProtocol
import WauseSQLite
import WauseSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The phone accepted this device (QR scanned or code entered): the server's `pair-success` iq
/// (whatsmeow pair.go handlePair). The device checks the phone's proof, countersigns, stores the
/// link, and answers `pair-device-sign`; the server then restarts the stream (515) and the next
/// connection logs in. A failed check answers whatsmeow's error iq and stores nothing.
enum PairSuccess {
    /// What the phone told us about the account, once verified.
    struct Link: Equatable {
        var jid: JID
        var lid: JID?
        var platform: String?
        var businessName: String?
        var accountSignatureKey: [UInt8]
        /// ADVSignedDeviceIdentity with our device signature, account key included (it goes out as
        /// `<device-identity>` in pkmsg stanzas later).
        var signedIdentity: [UInt8]
        var keyIndex: UInt32
    }

    enum Rejection: Error, Equatable {
        case hmacMismatch, signatureMismatch
        case malformed(String)

        /// `(code, text)` of the error iq (whatsmeow pair.go sendPairError).
        var errorIQ: (String, String) {
            switch self {
            case .hmacMismatch: return ("401", "hmac-mismatch")
            case .signatureMismatch: return ("401", "signature-mismatch")
            case .malformed: return ("500", "internal-error")
            }
        }

        var message: String {
            switch self {
            case .hmacMismatch: return "the phone's pairing proof failed its HMAC check (hmac-mismatch)"
            case .signatureMismatch: return "the phone's account signature did not verify (signature-mismatch)"
            case .malformed(let detail): return "the pair-success message was malformed: \(detail)"
            }
        }
    }

    static func isPairSuccess(_ node: Node) -> Bool {
        node.tag == "iq" && node[attribute: "type"] == "set" && node.child("pair-success") != nil
    }

    /// The checks of whatsmeow pair.go handlePair: HMAC, account signature, our device signature. Pure, so it can be tested
    /// with fixed inputs.
    static func verify(_ pairSuccess: Node, identity: DeviceIdentity, advSecret: [UInt8], random: (Int) -> [UInt8])
        throws(Rejection) -> Link
    {
        guard let container = pairSuccess.child("device-identity")?.bytes,
            let hmacContainer = try? WAAdv_ADVSignedDeviceIdentityHMAC(serializedBytes: container)
        else { throw .malformed("no readable device-identity") }
        let details = [UInt8](hmacContainer.details)
        let hosted = hmacContainer.accountType == .hosted
        let expected = ADVIdentity.hmac(signedIdentity: details, hosted: hosted, advSecret: advSecret)
        guard ConstantTime.equal(expected, [UInt8](hmacContainer.hmac)) else { throw .hmacMismatch }

        guard var signed = try? WAAdv_ADVSignedDeviceIdentity(serializedBytes: details),
            let device = try? WAAdv_ADVDeviceIdentity(serializedBytes: signed.details)
        else { throw .malformed("the signed device identity does not parse") }
        let accountKey = [UInt8](signed.accountSignatureKey)
        let accountSignature = [UInt8](signed.accountSignature)
        guard accountKey.count == 32, accountSignature.count == 64 else { throw .signatureMismatch }
        let deviceDetails = [UInt8](signed.details)
        let ownKey = identity.identityKey.publicKey
        let accountMessage = ADVIdentity.accountSignatureMessage(deviceIdentity: deviceDetails, companionIdentityKey: ownKey,
                                                                 hosted: device.deviceType == .hosted)
        guard XEdDSA.verify(signature: accountSignature, message: accountMessage, publicKey: accountKey) else {
            throw .signatureMismatch
        }
        let deviceMessage = ADVIdentity.deviceSignatureMessage(deviceIdentity: deviceDetails, companionIdentityKey: ownKey,
                                                               accountSignatureKey: accountKey)
        do {
            signed.deviceSignature = Data(try XEdDSA.sign(message: deviceMessage, privateKey: identity.identityKey.privateKey,
                                                          random: random(XEdDSA.randomLength)))
        } catch {
            throw .malformed("cannot sign: \(error)")
        }
        guard let deviceNode = pairSuccess.child("device"), let jid = deviceNode.jid("jid"), jid.server == .whatsApp,
            jid.device > 0
        else { throw .malformed("no device JID") }
        let lid = deviceNode.jid("lid")
        guard let signedBytes: [UInt8] = try? signed.serializedBytes() else { throw .malformed("cannot encode") }
        return Link(jid: jid, lid: lid, platform: pairSuccess.child("platform")?[attribute: "name"],
                    businessName: pairSuccess.child("biz")?[attribute: "name"], accountSignatureKey: accountKey,
                    signedIdentity: signedBytes, keyIndex: device.keyIndex)
    }

    /// Step 7: `<iq type=result><pair-device-sign><device-identity key-index>` with the account
    /// signature key removed (the server has it).
    static func signReply(id: String, link: Link) -> Node {
        var signed = (try? WAAdv_ADVSignedDeviceIdentity(serializedBytes: link.signedIdentity)) ?? .init()
        signed.clearAccountSignatureKey()
        let bytes: [UInt8] = (try? signed.serializedBytes()) ?? []
        return Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)], children: [
            Node(tag: "pair-device-sign", children: [
                Node(tag: "device-identity", attributes: ["key-index": .text(String(link.keyIndex))], bytes: bytes),
            ]),
        ])
    }

    static func errorReply(id: String, _ rejection: Rejection) -> Node {
        let (code, text) = rejection.errorIQ
        return Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "error", "id": .text(id)], children: [
            Node(tag: "error", attributes: ["code": .text(code), "text": .text(text)]),
        ])
    }
}
