/// Sending, delivery status and read receipts.
enum MessagingMethods {
    static let all: [MethodDefinition] = [
        SendMessage.definition,
        MessageStatus.definition,
        Receipts.markRead,
    ]
}
