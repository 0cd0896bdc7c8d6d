/// Where a sender key lives: one group and one sending device (libsignal `SenderKeyName`, a group
/// id and a `ProtocolAddress`). Every member device of a group has its own sender key, and we keep
/// one record per (group, sender device), our own included.
///
/// The string form `group::name::device` is Baileys' (`src/Signal/Group/sender-key-name.ts`
/// `serialize`); whatsmeow keys its rows by (group id, sender address string). It only names
/// storage rows.
public struct SenderKeyName: Hashable, Sendable, CustomStringConvertible {
    /// The group's id as the engine names it (WhatsApp: the group JID, `12036…@g.us`).
    public let groupId: String
    /// The sending device.
    public let sender: SignalAddress

    public init(groupId: String, sender: SignalAddress) {
        self.groupId = groupId
        self.sender = sender
    }

    public var description: String { "\(groupId)::\(sender.name)::\(sender.deviceId)" }
}
