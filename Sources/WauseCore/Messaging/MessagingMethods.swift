/// Sending, delivery status and read receipts.
enum MessagingMethods {
    static let all: [MethodDefinition] = [
        SendMessage.definition.bindings(positional: ["to", "message"], omitting: ["phone_number"])
            .raising(.whatsappNotPaired, .notFound, .ambiguousRecipient),
        MessageStatusMethod.definition.bindings(positional: ["message_id"]).raising(.notFound),
        Receipts.markRead.bindings(positional: ["chat"]).raising(.notFound, .ambiguousRecipient, .notConnected),
    ]
}
