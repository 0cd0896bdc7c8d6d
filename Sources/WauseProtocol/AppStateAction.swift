import WauseProto

/// The app-state actions wause reads and writes, as both sides build them and read them back
/// (whatsmeow appstate/encode.go `BuildMute`, `BuildPin`, `BuildArchive`, `BuildMarkChatAsRead`,
/// `BuildStar`, `BuildDeleteChat`, `BuildSettingPushName`, appstate.go `dispatchAppState`; Baileys
/// chat-utils.ts `chatModificationToAppPatch`, `processSyncAction`). Index layouts, collections and
/// action versions:
///
/// | action | index | collection | version |
/// |---|---|---|---|
/// | mute | `["mute", chat]` | regular_high | 2 |
/// | pin | `["pin_v1", chat]` | regular_low | 5 |
/// | archive | `["archive", chat]` (+ an unpin when archiving) | regular_low | 3 |
/// | mark read/unread | `["markChatAsRead", chat]` | regular_low | 3 |
/// | star | `["star", chat, id, fromMe "1"/"0", participant or "0"]` | regular_high (whatsmeow; Baileys regular_low) | 2 |
/// | delete for me | `["deleteMessageForMe", chat, id, fromMe, participant or "0"]` | regular_high | 3 |
/// | delete chat | `["deleteChat", chat, deleteMedia "1"/"0"]` | regular_high | 6 |
/// | clear chat | `["clearChat", chat, "1", "0"]` (Baileys) | regular_high | 6 |
/// | contact | `["contact", jid]` | critical_unblock_low | 2 |
/// | push name | `["setting_pushName"]` | critical_block | 1 |
/// | label edit | `["label_edit", labelID]` | regular | 3 |
/// | label a chat | `["label_jid", labelID, chat]` | regular | 3 |
/// | label a message | `["label_message", labelID, chat, id, fromMe, participant or "0"]` (whatsmeow writes "0", "0") | regular | 3 |
///
/// Labels (whatsmeow appstate/encode.go `BuildLabelEdit`, `BuildLabelChat`, `BuildLabelMessage`,
/// appstate.go `dispatchAppState`; Baileys chat-utils.ts `processSyncAction`) are named by the
/// phone's label ID, not by their name: the name and colour are what the phone set, in the
/// phone's language for predefined ones (`predefinedId`).
public enum AppStateAction: Sendable, Hashable {
    case archive(chat: String, archived: Bool)
    case pin(chat: String, pinned: Bool)
    /// `until`: nil = not muted, -1 = forever, else unix milliseconds.
    case mute(chat: String, until: Int64?)
    case star(MessageRef, starred: Bool)
    case markRead(chat: String, read: Bool)
    case deleteMessageForMe(MessageRef, deleteMedia: Bool)
    case clearChat(chat: String)
    case deleteChat(chat: String, deleteMedia: Bool)
    case contact(jid: String, fullName: String?, firstName: String?)
    case pushName(String)
    /// `LabelEditAction`: a label made, renamed, recoloured or deleted.
    case labelEdit(Label)
    /// `LabelAssociationAction` on a chat (`label_jid`).
    case labelChat(labelID: String, chat: String, labeled: Bool)
    /// `LabelAssociationAction` on a message (`label_message`).
    case labelMessage(labelID: String, MessageRef, labeled: Bool)

    /// A label as `LabelEditAction` describes it.
    public struct Label: Sendable, Hashable {
        public var id: String
        public var name: String
        public var color: Int32?
        public var predefinedID: Int32?
        public var deleted: Bool

        public init(id: String, name: String, color: Int32? = nil, predefinedID: Int32? = nil, deleted: Bool = false) {
            self.id = id
            self.name = name
            self.color = color
            self.predefinedID = predefinedID
            self.deleted = deleted
        }
    }

    /// A message named in an index: its chat, id, whether we sent it, and in a group who did.
    public struct MessageRef: Sendable, Hashable {
        public var chat: String
        public var id: String
        public var fromMe: Bool
        /// The sender in a group when not us; nil in a 1:1 chat (written "0").
        public var participant: String?

        public init(chat: String, id: String, fromMe: Bool, participant: String? = nil) {
            self.chat = chat
            self.id = id
            self.fromMe = fromMe
            self.participant = participant
        }

        var indexTail: [String] { [chat, id, fromMe ? "1" : "0", participant ?? "0"] }

        init?(_ index: [String]) {
            guard index.count >= 4 else { return nil }
            self.init(chat: index[1], id: index[2], fromMe: index[3] == "1", participant: index.count > 4 && index[4] != "0" ? index[4] : nil)
        }
    }

    public var collection: AppStateCollection {
        switch self {
        case .mute, .star, .deleteMessageForMe, .clearChat, .deleteChat: .regularHigh
        case .archive, .pin, .markRead: .regularLow
        case .contact: .criticalUnblockLow
        case .pushName: .criticalBlock
        case .labelEdit, .labelChat, .labelMessage: .regular
        }
    }

    /// The chat the action is about; nil for account settings and contacts.
    public var chat: String? {
        switch self {
        case .archive(let chat, _), .pin(let chat, _), .mute(let chat, _), .markRead(let chat, _), .clearChat(let chat),
             .deleteChat(let chat, _): chat
        case .star(let ref, _), .deleteMessageForMe(let ref, _), .labelMessage(_, let ref, _): ref.chat
        case .labelChat(_, let chat, _): chat
        case .contact, .pushName, .labelEdit: nil
        }
    }

    /// The mutations to send, stamped `timestamp` (unix ms; whatsmeow EncodePatch stamps each
    /// value with the patch time). `lastMessageTimestamp` (unix seconds) fills the message range of
    /// archive, mark-read, clear and delete (whatsmeow `newMessageRange` uses now when unknown).
    public func changes(timestamp: Int64, lastMessageTimestamp: Int64? = nil) -> [AppStateCollectionState.Change] {
        var value = WAWebProtobufSyncAction_SyncActionValue()
        value.timestamp = timestamp
        var range = WAWebProtobufSyncAction_SyncActionMessageRange()
        range.lastMessageTimestamp = lastMessageTimestamp ?? timestamp / 1000
        switch self {
        case .archive(let chat, let archived):
            value.archiveChatAction.archived = archived
            value.archiveChatAction.messageRange = range
            var changes = [AppStateCollectionState.Change(index: ["archive", chat], value: value, version: 3)]
            // whatsmeow BuildArchive: archiving also unpins, in the same patch.
            if archived { changes += AppStateAction.pin(chat: chat, pinned: false).changes(timestamp: timestamp) }
            return changes
        case .pin(let chat, let pinned):
            value.pinAction.pinned = pinned
            return [.init(index: ["pin_v1", chat], value: value, version: 5)]
        case .mute(let chat, let until):
            value.muteAction.muted = until != nil
            if let until { value.muteAction.muteEndTimestamp = until }
            return [.init(index: ["mute", chat], value: value, version: 2)]
        case .star(let ref, let starred):
            value.starAction.starred = starred
            return [.init(index: ["star"] + ref.indexTail, value: value, version: 2)]
        case .markRead(let chat, let read):
            value.markChatAsReadAction.read = read
            value.markChatAsReadAction.messageRange = range
            return [.init(index: ["markChatAsRead", chat], value: value, version: 3)]
        case .deleteMessageForMe(let ref, let deleteMedia):
            value.deleteMessageForMeAction.deleteMedia = deleteMedia
            return [.init(index: ["deleteMessageForMe"] + ref.indexTail, value: value, version: 3)]
        case .clearChat(let chat):
            value.clearChatAction_p.messageRange = range  // `clearChatAction`: the generator suffixes names that start with "clear"
            return [.init(index: ["clearChat", chat, "1", "0"], value: value, version: 6)]
        case .deleteChat(let chat, let deleteMedia):
            value.deleteChatAction.messageRange = range
            return [.init(index: ["deleteChat", chat, deleteMedia ? "1" : "0"], value: value, version: 6)]
        case .contact(let jid, let fullName, let firstName):
            if let fullName { value.contactAction.fullName = fullName }
            if let firstName { value.contactAction.firstName = firstName }
            return [.init(index: ["contact", jid], value: value, version: 2)]
        case .pushName(let name):
            value.pushNameSetting.name = name
            return [.init(index: ["setting_pushName"], value: value, version: 1)]
        case .labelEdit(let label):
            value.labelEditAction.name = label.name
            if let color = label.color { value.labelEditAction.color = color }
            if let predefined = label.predefinedID { value.labelEditAction.predefinedID = predefined }
            value.labelEditAction.deleted = label.deleted
            return [.init(index: ["label_edit", label.id], value: value, version: 3)]
        case .labelChat(let labelID, let chat, let labeled):
            value.labelAssociationAction.labeled = labeled
            return [.init(index: ["label_jid", labelID, chat], value: value, version: 3)]
        case .labelMessage(let labelID, let ref, let labeled):
            value.labelAssociationAction.labeled = labeled
            return [.init(index: ["label_message", labelID] + ref.indexTail, value: value, version: 3)]
        }
    }

    /// What a received mutation means; nil for a REMOVE (whatsmeow dispatches SETs only) and for
    /// actions wause does not act on (locale, quick replies, …).
    public init?(_ mutation: AppStateMutation) {
        guard mutation.operation == .set else { return nil }
        let index = mutation.index
        let value = mutation.value
        switch mutation.action {
        case "archive" where index.count >= 2 && value.hasArchiveChatAction:
            self = .archive(chat: index[1], archived: value.archiveChatAction.archived)
        case "pin_v1" where index.count >= 2 && value.hasPinAction:
            self = .pin(chat: index[1], pinned: value.pinAction.pinned)
        case "mute" where index.count >= 2 && value.hasMuteAction:
            let action = value.muteAction
            // muted with no end, or a negative end, is forever (whatsmeow dispatchAppState).
            self = .mute(chat: index[1], until: action.muted ? (action.hasMuteEndTimestamp && action.muteEndTimestamp > 0 ? action.muteEndTimestamp : -1) : nil)
        case "star" where value.hasStarAction:
            guard let ref = MessageRef(index) else { return nil }
            self = .star(ref, starred: value.starAction.starred)
        case "markChatAsRead" where index.count >= 2 && value.hasMarkChatAsReadAction:
            self = .markRead(chat: index[1], read: value.markChatAsReadAction.read)
        case "deleteMessageForMe":
            guard let ref = MessageRef(index) else { return nil }
            self = .deleteMessageForMe(ref, deleteMedia: value.deleteMessageForMeAction.deleteMedia)
        case "clearChat" where index.count >= 2:
            self = .clearChat(chat: index[1])
        case "deleteChat" where index.count >= 2:
            self = .deleteChat(chat: index[1], deleteMedia: index.count > 2 && index[2] == "1")
        case "contact" where index.count >= 2 && value.hasContactAction:
            let contact = value.contactAction
            self = .contact(jid: index[1], fullName: contact.hasFullName ? contact.fullName : nil,
                            firstName: contact.hasFirstName ? contact.firstName : nil)
        case "setting_pushName" where value.hasPushNameSetting:
            self = .pushName(value.pushNameSetting.name)
        case "label_edit" where index.count >= 2 && !index[1].isEmpty && value.hasLabelEditAction:
            let edit = value.labelEditAction
            self = .labelEdit(Label(id: index[1], name: edit.name, color: edit.hasColor ? edit.color : nil,
                                    predefinedID: edit.hasPredefinedID ? edit.predefinedID : nil, deleted: edit.deleted))
        case "label_jid" where index.count >= 3 && value.hasLabelAssociationAction:
            self = .labelChat(labelID: index[1], chat: index[2], labeled: value.labelAssociationAction.labeled)
        case "label_message" where index.count >= 6 && value.hasLabelAssociationAction:
            // whatsmeow dispatchAppState wants all six parts; the message reference starts at the chat.
            guard let ref = MessageRef(["label_message"] + index[2...]) else { return nil }
            self = .labelMessage(labelID: index[1], ref, labeled: value.labelAssociationAction.labeled)
        default:
            return nil
        }
    }
}
