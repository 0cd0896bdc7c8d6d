/// Sending, delivery status and read receipts.
enum MessagingMethods {
    static let all: [MethodDefinition] = [
        SendMessage.definition.bindings(positional: ["to", "message"], omitting: ["phone_number"])
            .raising(.whatsappNotPaired, .notFound, .ambiguousRecipient, .forbiddenRecipient, .rateLimited)
            .summarized("Send an end-to-end encrypted text to phone_number or to (phone, JID, LID or contact name); status sent or queued."),
        MessageStatusMethod.definition.bindings(positional: ["message_id"]).raising(.notFound)
            .summarized("Status (queued, sent, delivered, read, failed) and timeline of a message this device sent."),
        Receipts.markRead.bindings(positional: ["chat"], omitting: ["to"]).raising(.notFound, .ambiguousRecipient, .notConnected)
            .summarized("Send read receipts for a chat's unread messages (or message_ids) and clear its unread count."),
    ] + MessageChanges.all + Polls.all + ScheduledSends.all + BulkSends.all + DeliveryReport.all
}
