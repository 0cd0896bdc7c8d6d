/// The five app-state collections ("patch names") the server keeps per account (whatsmeow
/// appstate/keys.go `WAPatchName`, `AllPatchNames`; Baileys src/Types/Chat.ts `ALL_WA_PATCH_NAMES`).
/// Each holds its own version, LTHash and index → value-MAC table; a mutation belongs to exactly one.
public enum AppStateCollection: String, CaseIterable, Sendable, Hashable, Codable {
    /// User settings: push name, locale.
    case criticalBlock = "critical_block"
    /// The contact list: `contact`, `lid_contact`.
    case criticalUnblockLow = "critical_unblock_low"
    /// Mute, star, delete-for-me, clear and delete chat.
    case regularHigh = "regular_high"
    /// Labels, key expiration, pn-for-lid and other protocol information.
    case regular
    /// Pin, archive, mark read/unread.
    case regularLow = "regular_low"

    /// The order whatsmeow fetches them in (`AllPatchNames`): settings and contacts first, so the
    /// names are known before the chat settings that mention them.
    public static let fetchOrder: [AppStateCollection] = [.criticalBlock, .criticalUnblockLow, .regularHigh, .regular, .regularLow]
}
