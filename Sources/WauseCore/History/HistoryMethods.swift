/// Reading the local store: chats, messages, search, the change feed and waiting for a message.
enum HistoryMethods {
    static let all: [MethodDefinition] = [
        History.listChats,
        History.readMessages,
        History.listMessages,
        History.searchMessages,
        History.sync,
        WaitForMessage.definition,
    ]
}
