import WauseBinary
import WauseHTTP
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSupport

// Virtual phones quoting and forwarding (issue 14 "wause-sim": `quoted_message_id` and `forwarded`
// on send), kept apart from VirtualPhones.swift so each stays small; reactions are
// PhoneMessageChanges.swift's `react` route.

extension VirtualPhones {
    /// A text as an ExtendedTextMessage: a reply quoting message `quotedID` (ContextInfo
    /// stanzaId, participant = the quoted message's sender — whatsmeow and Baileys build replies
    /// this way), and/or marked forwarded (ContextInfo isForwarded, forwardingScore).
    func sendExtended(from account: SimAccount, to chat: JID, text: String, quotedID: String?,
                      forwarded: Bool) throws(WauseError) -> (id: String, t: Int64) {
        var message = WAWebProtobufsE2E_Message()
        var extended = WAWebProtobufsE2E_ExtendedTextMessage()
        extended.text = text
        if let quotedID {
            let quoted = try knownMessage(of: account, id: quotedID)
            extended.contextInfo.stanzaID = quotedID
            extended.contextInfo.participant = quoted.fromMe ? "\(account.phone)@s.whatsapp.net" : chat.description
        }
        if forwarded {
            extended.contextInfo.isForwarded = true
            extended.contextInfo.forwardingScore = 1
        }
        message.extendedTextMessage = extended
        return try send(from: account, to: chat, message: message)
    }
}
