import Crypto
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal
import WauseSupport

/// The 1:1 message formats both sides of the wire use (whatsmeow send.go, message.go; Baileys
/// src/Utils/generics.ts): message ids, Signal addresses of devices, padding, the copy our own
/// devices get, and the text inside the containers clients unwrap.
public enum MessageFormat {
    public static func address(of device: JID) -> SignalAddress {
        SignalAddress(user: device.user, agent: device.rawAgent, device: device.device, server: device.server.rawValue)
    }

    /// whatsmeow's `GenerateMessageID`: `3EB0` + the first 9 bytes (upper-case hex) of
    /// SHA-256(unix seconds as 8 bytes BE ‖ own user ‖ "@c.us" ‖ 16 random bytes) — 22 characters.
    public static func newMessageID(now: UnixTime, ownUser: String, random: (Int) -> [UInt8]) -> String {
        let seconds = UInt64(max(0, now.seconds))
        var data = (0..<8).reversed().map { UInt8(truncatingIfNeeded: seconds >> (8 * UInt64($0))) }
        data += Array(ownUser.utf8) + Array("@c.us".utf8) + random(16)
        return "3EB0" + Hex.encode(Array(SHA256.hash(data: data).prefix(9))).uppercased()
    }

    /// whatsmeow message.go `padMessage`: 1–15 bytes, each holding the count.
    public static func pad(_ plaintext: [UInt8], random: (Int) -> [UInt8]) -> [UInt8] {
        var count = Int(random(1)[0] & 0x0F)
        if count == 0 { count = 15 }
        return plaintext + [UInt8](repeating: UInt8(count), count: count)
    }

    /// Strips and checks the padding (every pad byte equals the count, as whatsmeow checks).
    public static func unpad(_ padded: [UInt8]) throws(WauseError) -> [UInt8] {
        guard let last = padded.last, last > 0, Int(last) <= padded.count,
            padded.suffix(Int(last)).allSatisfy({ $0 == last })
        else { throw WauseError(.internal, "the decrypted message has invalid padding") }
        return Array(padded.dropLast(Int(last)))
    }

    /// What our own other devices get instead of a message we sent (whatsmeow send.go marshalMessage): the message wrapped in a
    /// `DeviceSentMessage` naming the chat, with the original's `messageContextInfo`.
    public static func deviceSentCopy(of message: WAWebProtobufsE2E_Message, chat: JID) -> WAWebProtobufsE2E_Message {
        var copy = WAWebProtobufsE2E_Message()
        copy.deviceSentMessage.destinationJid = chat.description
        copy.deviceSentMessage.message = message
        if message.hasMessageContextInfo { copy.messageContextInfo = message.messageContextInfo }
        return copy
    }

    public static func encode(_ message: WAWebProtobufsE2E_Message) throws(WauseError) -> [UInt8] {
        do { return try message.serializedBytes() } catch { throw .internal("cannot encode the message: \(error)") }
    }

    /// The message inside the containers whatsmeow unwraps (types/events/events.go UnwrapRaw): a
    /// device-sent copy, ephemeral, view-once (both versions) and document-with-caption, up to
    /// four deep.
    public static func unwrapped(_ message: WAWebProtobufsE2E_Message) -> WAWebProtobufsE2E_Message {
        var current = message
        for _ in 0..<4 {
            if current.hasDeviceSentMessage { current = current.deviceSentMessage.message; continue }
            if current.hasEphemeralMessage { current = current.ephemeralMessage.message; continue }
            if current.hasViewOnceMessage { current = current.viewOnceMessage.message; continue }
            if current.hasViewOnceMessageV2 { current = current.viewOnceMessageV2.message; continue }
            if current.hasDocumentWithCaptionMessage { current = current.documentWithCaptionMessage.message; continue }
            break
        }
        return current
    }

    /// The text of a message, after unwrapping the containers whatsmeow unwraps (`unwrapped`).
    public static func text(of message: WAWebProtobufsE2E_Message) -> (body: String, quotedID: String?, type: String)? {
        let current = unwrapped(message)
        if current.hasConversation { return (current.conversation, nil, "chat") }
        if current.hasGroupInviteMessage { return (current.groupInviteMessage.caption, nil, "group_invite") }
        if current.hasExtendedTextMessage {
            let extended = current.extendedTextMessage
            let quoted = extended.contextInfo.hasStanzaID ? extended.contextInfo.stanzaID : nil
            return (extended.text, quoted, "chat")
        }
        // A poll is filed with its question as the text (PollMessage.swift reads the rest from the raw message).
        for poll in [current.pollCreationMessage, current.pollCreationMessageV3, current.pollCreationMessageV2] where poll.hasName {
            return (poll.name, nil, "poll")
        }
        return nil
    }

    /// The caption WhatsApp's apps put on an invitation when the inviter writes none.
    public static let groupInviteCaption = "Invitation to join my WhatsApp group"

    /// An invitation to a group for someone the server would not let us add: the code and
    /// expiration of the 403's `<add_request>` (whatsmeow proto waE2E GroupInviteMessage; Baileys
    /// messages.ts `groupInvite` fills groupJID, inviteCode, inviteExpiration, groupName, caption).
    public static func groupInvite(group: JID, code: String, expiration: Int64?, name: String,
                                   caption: String = groupInviteCaption) -> WAWebProtobufsE2E_Message {
        var invite = WAWebProtobufsE2E_GroupInviteMessage()
        invite.groupJid = group.description
        invite.inviteCode = code
        if let expiration { invite.inviteExpiration = expiration }
        invite.groupName = name
        invite.caption = caption
        var message = WAWebProtobufsE2E_Message()
        message.groupInviteMessage = invite
        return message
    }
}
