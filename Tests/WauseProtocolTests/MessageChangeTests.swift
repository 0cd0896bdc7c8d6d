import Testing
import WauseProto
import WauseSupport
@testable import WauseProtocol

/// Reactions, edits and revokes as whatsmeow send.go builds them (BuildReaction, BuildEdit,
/// BuildRevoke) and the `<message>` attributes its getTypeFromMessage/getEditAttribute give.
@Suite struct MessageChangeTests {
    static let target = MessageChange.Target(id: "3EB0AA", chat: "15550003333@s.whatsapp.net", fromMe: true)

    @Test func eachChangeRoundTripsWithItsAttributes() throws {
        let cases: [(MessageChange, String, String?)] = [
            (.reaction(Self.target, emoji: "👍", at: 1_700_000_000_000), "reaction", nil),
            (.reaction(Self.target, emoji: "", at: 1_700_000_000_000), "reaction", "7"),
            (.edit(Self.target, newText: "fixed", at: 1_700_000_000_000), "text", "1"),
            (.revoke(Self.target), "text", "7"),
            (.revoke(MessageChange.Target(id: "3EB0BB", chat: "1203@g.us", fromMe: false, participant: "1555@s.whatsapp.net")), "text", "8"),
        ]
        for (change, type, edit) in cases {
            let wire = try WAWebProtobufsE2E_Message(serializedBytes: try MessageFormat.encode(change.message))
            #expect(MessageChange(wire) == change)
            #expect(change.stanzaType == type && change.editAttribute?.rawValue == edit)
            // A change is no text: it is never filed as a message of its own.
            #expect(MessageFormat.text(of: wire) == nil)
        }
    }

    @Test func anEditIsWrappedAsWhatsmeowSendsIt() throws {
        let message = MessageChange.edit(Self.target, newText: "fixed", at: 5).message
        #expect(message.hasEditedMessage && message.editedMessage.message.protocolMessage.type == .messageEdit)
        #expect(message.editedMessage.message.protocolMessage.editedMessage.conversation == "fixed")
        #expect(message.editedMessage.message.protocolMessage.key.id == "3EB0AA")
        // Other messages are no change.
        var text = WAWebProtobufsE2E_Message()
        text.conversation = "hi"
        #expect(MessageChange(text) == nil)
    }
}
