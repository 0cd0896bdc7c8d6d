/// Reading the local store: chats, messages, search, the change feed and waiting for a message.
enum HistoryMethods {
    static let all: [MethodDefinition] = [
        History.listChats.bindings(positional: ["limit"]),
        History.readMessages.bindings(positional: ["phone_number", "limit"]).raising(.notFound, .ambiguousRecipient),
        History.listMessages.bindings(positional: ["to"]).raising(.notFound, .ambiguousRecipient),
        History.searchMessages.bindings(positional: ["query"]).raising(.notFound, .ambiguousRecipient),
        History.sync.bindings(positional: ["cursor", "limit"]),
        WaitForMessage.definition.bindings(positional: ["timeout", "chat", "from_phone"]).raising(.notFound, .ambiguousRecipient),
    ]
}
