import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseProtocol
import WauseSignal
import WauseSupport
import WauseTransport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One group message on the wire (whatsmeow send.go sendGroup): the devices of every participant
/// (usync, cached), our sender key's distribution message pairwise (`pkmsg`/`msg` in
/// `<participants><to>`) to each device that does not hold it yet — our own other devices
/// included —, the message once under the sender key (`<enc type="skmsg">`), and `phash` over
/// every device. In a LID-addressed group our LID device is the sender-key identity and the
/// participants are addressed by LID. Called by the outbox, one send at a time.
struct GroupSend {
    let store: Store
    let messaging: Messaging
    let deviceList: DeviceList
    let environment: Environment
    let logger: Logger

    /// Sends and returns the server's ack; `Outbox.Failure` for what the outbox decides at once.
    func send(_ entry: Store.OutboxEntry, group groupJID: JID, connection: ServerConnection) async throws -> Node {
        guard let account = try store.linkedAccount(), let ownDevice = JID(account.jid) else {
            throw WauseError(.whatsappNotPaired, "this device is not linked")
        }
        guard let record = try store.group(jid: groupJID.description), record.isParticipant else {
            throw Outbox.Failure.permanent(Outbox.notAParticipantReason(groupJID.description))
        }
        let group = record.group
        let lidMode = group.addressingMode == "lid"
        // Our device in the group's addressing form: the sender-key identity and the device left out of the fan-out.
        let ownLID = account.lid.flatMap { JID($0) }
        let own: JID
        if lidMode, let ownLID {
            own = JID(user: ownLID.user, device: ownDevice.device, server: .lid)
        } else {
            own = ownDevice
        }
        let ownUser = JID(user: own.user, server: own.server)
        var users: [JID] = [ownUser]
        for participant in group.participants {
            let user: JID
            if lidMode, let lid = participant.lidUser {
                user = JID(user: lid, server: .lid)
            } else if !lidMode, let phone = participant.phone {
                user = JID(user: phone, server: .whatsApp)
            } else {
                user = JID(user: participant.jid.user, server: participant.jid.server)
            }
            if !users.contains(user) { users.append(user) }
        }
        let lists = try await deviceList.devices(of: users, connection: connection)
        let allDevices = lists.flatMap(\.devices)
        let others = allDevices.filter { !($0.user == own.user && $0.device == own.device && $0.server == own.server) }

        // Our sender key (made on first use) and who still needs it.
        let name = SenderKeyName(groupId: groupJID.description, sender: MessageFormat.address(of: own))
        let distribution: SenderKeyDistributionMessage
        do {
            distribution = try messaging.withRatchet {
                try GroupSessionBuilder(store: messaging.senderKeyStore, random: environment.randomBytes).create(for: name)
            }
        } catch {
            throw WauseError(.internal, "cannot make our sender key for \(groupJID): \(error)")
        }
        let holders = try store.senderKeyHolders(group: groupJID.description)
        let needing = others.filter { !holders.contains($0.description) }
        let missing = try messaging.devicesWithoutSession(needing)
        let bundles = try await PreKeyBundles.fetch(missing, connection: connection, environment: environment)
        let reachable = needing.filter { bundles[$0] != nil || !missing.contains($0) }
        var carrier = WAWebProtobufsE2E_Message()
        carrier.senderKeyDistributionMessage.groupID = groupJID.description
        carrier.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
        let sealed = try messaging.encrypt(try MessageFormat.encode(carrier), for: reachable, bundles: bundles)

        let skmsg: SenderKeyMessage
        do {
            skmsg = try messaging.withRatchet {
                try GroupCipher(name: name, store: messaging.senderKeyStore, random: environment.randomBytes)
                    .encrypt(MessageFormat.pad(entry.payload, random: environment.randomBytes))
            }
        } catch {
            throw WauseError(.internal, "cannot encrypt for \(groupJID): \(error)")
        }
        // whatsmeow send.go sendGroup: media goes as type="media", the skmsg <enc> naming its mediatype.
        let mediaType = (try? WAWebProtobufsE2E_Message(serializedBytes: entry.payload)).flatMap(MediaMessage.encMediaType)
        var envelope = MessageEnvelope(
            id: entry.messageID, type: mediaType == nil ? "text" : "media", to: groupJID, phash: ParticipantHash.v2(allDevices),
            addressingMode: lidMode ? "lid" : nil,
            participants: sealed.map { MessageEnvelope.Addressed(device: $0.device, encrypted: .init(type: $0.type, ciphertext: $0.ciphertext)) },
            encrypted: [.init(type: "skmsg", ciphertext: skmsg.serialized, mediaType: mediaType)])
        if envelope.carriesPreKeyMessage, let identity = try store.advSignedIdentity() { envelope.deviceIdentity = identity }
        let ack = try await connection.sendAwaitingAck(envelope.node, timeout: Outbox.ackTimeout, environment: environment)
        if let error = ack[attribute: "error"], error != "0" {
            let ownForms = try Groups.ownJIDs(store)
            let ourStanding = group.participants.first { Groups.isMember(GroupStanzas.Group(jid: groupJID, name: "", participants: [$0]), own: ownForms) }
            if error == "403", group.announce, ourStanding?.admin == GroupStanzas.Admin.none {
                // An announcement group refuses a member who is not an admin (whatsmeow send.go): still a member, not sent.
                throw Outbox.Failure.permanent("only admins may send to \(groupJID.description) (an announcement group)")
            }
            if error == "403" || error == "404" {
                // The server does not count us as a member (removed while we were away): the chat becomes read-only.
                try store.markGroupLeft(jid: groupJID.description, now: environment.now())
                throw Outbox.Failure.permanent(Outbox.notAParticipantReason(groupJID.description))
            }
            return ack
        }
        // Recorded only while the key they got is still ours: a removal may have rotated it meanwhile (GroupNotifications).
        let current = try messaging.withRatchet { try messaging.senderKeyStore.loadSenderKey(for: name)?.states.first?.keyId }
        if current == distribution.keyId {
            try store.addSenderKeyHolders(group: groupJID.description, devices: reachable.map(\.description), now: environment.now())
        }
        // The server's phash covers the devices it knows; a mismatch means our lists are stale (whatsmeow send.go).
        if let phash = ack[attribute: "phash"], phash != ParticipantHash.v2(allDevices) {
            logger.info("device lists of \(groupJID) are stale (phash mismatch); refreshing on the next send")
            for user in users { try store.invalidateDeviceList(user: user) }
            // The member list may be stale too (a change whose notification we missed): ask again (whatsmeow send.go
            // clears its group cache on a mismatch). A failure here costs nothing: the message went.
            if let answer = try? await connection.query(GroupStanzas.info(id: connection.nextID(), group: groupJID),
                                                        timeout: ServerConnection.queryTimeout, environment: environment),
                GroupStanzas.errorCode(answer) == nil, let node = answer.child("group"), let fresh = try? GroupStanzas.Group(parsing: node)
            {
                try store.saveGroup(fresh, isParticipant: Groups.isMember(fresh, own: try Groups.ownJIDs(store)), now: environment.now())
            }
        }
        return ack
    }
}

extension Receipts {
    /// A member's device could not read one of our group messages (whatsmeow retry.go
    /// handleRetryReceipt for groups): the message again, with our sender key's distribution
    /// message in it, pairwise to that one device — `to` the group, `participant` the device —
    /// with the original's `t` and the retry count. The device no longer counts as holding our key.
    func resendInGroup(for receipt: ReceiptStanzas.Receipt, group: JID, connection: ServerConnection) async {
        let id = receipt.id
        guard let device = receipt.participant, let message = try? store.message(id: id), message.fromMe, message.chatJID == group.description,
            let raw = message.raw, let answered = try? store.countRetryAnswered(messageID: id, device: device.description),
            answered <= Receipts.maximumRetriesAnswered
        else {
            logger.info("group retry receipt for \(id) not answered (unknown message, no participant or too many retries)")
            return
        }
        do {
            guard let account = try store.linkedAccount(), let ownDevice = JID(account.jid) else { return }
            let lidMode = try store.group(jid: group.description)?.group.addressingMode == "lid"
            var own = ownDevice
            if lidMode, let lid = account.lid.flatMap({ JID($0) }) { own = JID(user: lid.user, device: ownDevice.device, server: .lid) }
            try store.removeSenderKeyHolder(group: group.description, device: device.description)
            let bundles = try await bundlesForResend(to: device, answering: receipt, connection: connection)
            let name = SenderKeyName(groupId: group.description, sender: MessageFormat.address(of: own))
            let distribution = try messaging.withRatchet {
                try GroupSessionBuilder(store: messaging.senderKeyStore, random: environment.randomBytes).create(for: name)
            }
            var content = try WAWebProtobufsE2E_Message(serializedBytes: raw)
            content.senderKeyDistributionMessage.groupID = group.description
            content.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = Data(distribution.serialized)
            guard let sealed = try messaging.encrypt(try MessageFormat.encode(content), for: [device], bundles: bundles).first else { return }
            let count = String(receipt.retry?.count ?? 1)
            var stanza = MessageEnvelope(id: id, type: "text", to: group, participant: device, t: receipt.retry?.t,
                                         addressingMode: lidMode ? "lid" : nil,
                                         encrypted: [.init(type: sealed.type, ciphertext: sealed.ciphertext, count: count)])
            if stanza.carriesPreKeyMessage { stanza.deviceIdentity = try store.advSignedIdentity() }
            try connection.send(stanza.node)
            try store.addSenderKeyHolders(group: group.description, devices: [device.description], now: environment.now())
            logger.info("resent group message \(id) to \(device) after retry receipt \(count)")
        } catch {
            logger.warning("cannot answer the group retry receipt for \(id) from \(device): \(error)")
        }
    }
}
