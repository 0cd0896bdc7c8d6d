import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSupport

/// What a linked device asks the server once it is logged in, as the reference clients send it
/// after `<success>`: its prekey count and prekey uploads (whatsmeow prekeys.go getServerPreKeyCount, uploadPreKeys),
/// device lists and prekey bundles before it encrypts (`UserDevices`, whatsmeow user.go GetUserDevices,
/// prekeys.go fetchPreKeys), and unlinking itself (client.go Logout). The passive/active iq and pings are answered for every connection in
/// `ChatEndpoint.respond`.
enum DeviceRequests {
    enum Reply {
        case answer(Node)
        /// Answer, then end the connection (the device unlinked itself).
        case answerThenClose(Node)
        /// Answer, then do what must follow the answer (notifications the request caused).
        case answerThen(Node, @Sendable () -> Void)
    }

    /// whatsmeow prekeys.go uploadPreKeys sizes: ids are 3 bytes big-endian, keys 32, signatures 64, registration id 4.
    struct Malformed: Error {
        let reason: String
    }

    /// Parses the upload iq of whatsmeow prekeys.go uploadPreKeys and checks the signed prekey's signature by the device's
    /// identity key over `05 ‖ pub`.
    static func parseUpload(_ node: Node, identityKey: [UInt8]) throws(Malformed) -> UploadedPreKeys {
        guard let registration = node.child("registration")?.bytes, registration.count == 4 else {
            throw Malformed(reason: "registration must be 4 bytes")
        }
        guard node.child("type")?.bytes == [DjbPublicKey.typeByte] else { throw Malformed(reason: "type must be 0x05") }
        guard let identity = node.child("identity")?.bytes, identity.count == 32 else {
            throw Malformed(reason: "identity must be 32 bytes")
        }
        guard identity == identityKey else { throw Malformed(reason: "identity is not this device's identity key") }
        guard let list = node.child("list") else { throw Malformed(reason: "list is missing") }
        var preKeys: [(id: Int, publicKey: [UInt8])] = []
        for key in list.children {
            guard key.tag == "key" else { throw Malformed(reason: "list holds <\(key.tag)>, expected <key>") }
            preKeys.append(try keyPair(key))
        }
        guard let skey = node.child("skey") else { throw Malformed(reason: "skey is missing") }
        let signed = try keyPair(skey)
        guard let signature = skey.child("signature")?.bytes, signature.count == 64 else {
            throw Malformed(reason: "skey signature must be 64 bytes")
        }
        guard XEdDSA.verify(signature: signature, message: DjbPublicKey.serialize(signed.publicKey), publicKey: identityKey) else {
            throw Malformed(reason: "the signed prekey's signature does not verify with the device's identity key")
        }
        return UploadedPreKeys(registrationID: registration.reduce(Int64(0)) { $0 << 8 | Int64($1) }, preKeys: preKeys,
                               signedPreKey: (signed.id, signed.publicKey, signature))
    }

    private static func keyPair(_ node: Node) throws(Malformed) -> (id: Int, publicKey: [UInt8]) {
        guard let id = node.child("id")?.bytes, id.count == 3 else { throw Malformed(reason: "a key id must be 3 bytes") }
        guard let value = node.child("value")?.bytes, value.count == 32 else {
            throw Malformed(reason: "a key value must be 32 bytes")
        }
        return (id.reduce(0) { $0 << 8 | Int($1) }, value)
    }
}

extension ChatEndpoint {
    /// A logged-in device's request; nil when it is none of these (the caller answers 501).
    func deviceRequest(_ node: Node, id: String, device: SimDevice) throws -> DeviceRequests.Reply? {
        switch (node[attribute: "type"], node[attribute: "xmlns"]) {
        case ("get", "encrypt") where node.child("count") != nil:
            // whatsmeow prekeys.go getServerPreKeyCount: how many one-time prekeys the server holds for this device.
            let count = try state.preKeyCount(phone: device.phone, device: device.device)
            return .answer(ChatEndpoint.result(id, [Node(tag: "count", attributes: ["value": .text(String(count))])]))
        case ("get", "encrypt") where node.child("key") != nil:
            // whatsmeow prekeys.go fetchPreKeys: prekey bundles of devices the client has no session with.
            let (answer, low) = try UserDevices.bundles(node, id: id, state: state)
            let router = self.router
            return .answerThen(answer) { for device in low { router.notifyPreKeyCount(phone: device.phone, device: device.device) } }
        case ("get", "usync"):
            // whatsmeow user.go GetUserDevices: device lists (and LIDs) of the users the client is about to message.
            // Asking about people as well (ContactRequests.swift: is on WhatsApp, about, business, picture).
            return .answer(try contactUsync(node, id: id) ?? UserDevices.usync(node, id: id, state: state))
        case ("get", ProfilePictureStanzas.namespace):
            return try profilePictureRequest(node, id: id)
        case ("set", "encrypt") where node.child("list") != nil || node.child("skey") != nil:
            // whatsmeow prekeys.go uploadPreKeys: the upload; all of it is stored or none.
            do {
                let upload = try DeviceRequests.parseUpload(node, identityKey: device.identityPublicKey)
                try state.storePreKeys(phone: device.phone, device: device.device, upload)
                // The companion can receive messages now: its phone shares the app-state key
                // (PhoneAppState.swift), then sends its history (PhoneHistory.swift).
                guard let phones = router.phones else { return .answer(ChatEndpoint.result(id)) }
                let logger = self.logger
                return .answerThen(ChatEndpoint.result(id)) {
                    do throws(WauseError) { try phones.shareAppStateKeys(phone: device.phone, device: device.device) } catch {
                        logger.error("\(device.jid): app-state key share failed: \(error.message)")
                    }
                    phones.history.sendIfDue(phone: device.phone, device: device.device)
                }
            } catch let malformed as DeviceRequests.Malformed {
                logger.info("\(device.jid): prekey upload refused: \(malformed.reason)")
                return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request"))
            }
        case ("set", MediaConnStanzas.namespace) where MediaConnStanzas.isQuery(node):
            // whatsmeow mediaconn.go queryMediaConn: where to upload and download media, with a fresh auth.
            let answer = MediaConnStanzas.MediaConn(auth: media.store.issueAuth(account: device.phone), ttl: MediaStore.ttl, authTTL: MediaStore.authTTL,
                                                    maxBuckets: MediaStore.maxBuckets, hosts: [.init(hostname: media.hostname)])
            return .answer(answer.result(id: id))
        case ("set", AppStateStanzas.namespace):
            // App state (AppStateServer.swift): fetches and patches.
            guard let phones = router.phones, let account = try state.account(phone: device.phone) else { return nil }
            return .answer(try phones.appState.handle(node, id: id, sender: SimEndpoint(account: account, device: device.device)))
        case (_, "w:g2"):
            // Groups (GroupRequests.swift).
            return try groupRequest(node, id: id, device: device)
        case (_, "privacy"):
            // Privacy tokens and settings (PrivacyRequests.swift).
            return try privacyRequest(node, id: id, device: device)
        case ("set", "md"):
            guard let remove = node.child("remove-companion-device") else { return nil }
            // whatsmeow client.go Logout: the companion unlinks itself. Only its own device JID; the phone (device 0) and
            // other companions are not its to remove.
            guard remove.jid("jid").map({ $0.user == device.phone && Int($0.device) == device.device && $0.server == .whatsApp })
                    ?? (remove[attribute: "jid"] == device.jid)
            else {
                return .answer(ChatEndpoint.error(id, code: 403, text: "forbidden"))
            }
            // As DELETE /accounts/{phone}/devices/{n} does: gone, and remembered so that a later
            // login with the same keys gets `<failure reason=401>`.
            let removed = try state.removeDevice(phone: device.phone, device: device.device)
            if let account = try state.account(phone: device.phone) {
                router.announceDevices(of: account, change: "remove", device: device.device, keyIndex: removed?.keyIndex)
            }
            logger.info("\(device.jid) unlinked itself (\(remove[attribute: "reason"] ?? "no reason"))")
            return .answerThenClose(ChatEndpoint.result(id))
        default:
            return nil
        }
    }
}
