import WauseSupport
/// Toolsets: which methods a client serves (DESIGN.md "Methods (MCP tools)": "MCP serves them in
/// toolsets (`core` by default; `groups`, `media`, `approvals`, `contacts`, `chats`, `accounts`,
/// `delivery`; `all`); the seven contract tools are in every toolset"). A `tools/list` of every
/// method costs an agent's context thousands of tokens before its first call (issue 11), so the
/// MCP host shows the enabled toolsets only and refuses calls to the others with an error that
/// names the toolset to enable.
public enum Toolsets {
    public static let core = "core"
    /// Not a toolset of its own: every toolset.
    public static let all = "all"
    /// Every toolset name the catalogue may use, `all` last.
    public static let known = [core, "groups", "media", "approvals", "contacts", "chats", "accounts", "delivery", all]

    /// The seven tools of the existing local server (DESIGN.md "The seven-tool contract"): in every
    /// toolset, so agents written for it work whatever is enabled.
    public static let contractTools: Set<String> = [
        "whatsapp_status", "whatsapp_start_auth", "whatsapp_pairing_code", "whatsapp_send_message",
        "whatsapp_list_chats", "whatsapp_read_messages", "whatsapp_logout",
    ]

    /// Parses the `toolsets` setting: comma-separated names (spaces around them ignored), `all`
    /// for every one. An unknown or empty name is an `invalid_request` that lists the known ones.
    public static func parse(_ text: String) throws(WauseError) -> Set<String> {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw .invalidRequest("toolsets must be a comma-separated list of: \(known.joined(separator: ", "))",
                                  details: ["key": "toolsets"])
        }
        for name in names where !known.contains(name) {
            throw .invalidRequest("unknown toolset '\(name)'; known toolsets: \(known.joined(separator: ", "))",
                                  details: ["key": "toolsets", "toolset": .string(name)])
        }
        return Set(names)
    }

    /// Whether a method is served when `enabled` are the enabled toolsets.
    public static func enables(_ enabled: Set<String>, _ method: MethodDefinition) -> Bool {
        enabled.contains(all) || enabled.contains(method.toolset) || contractTools.contains(method.name)
    }

    /// The error for a call to a method outside the enabled toolsets: names the toolset to add.
    static func notEnabled(_ method: MethodDefinition, enabled: Set<String>) -> WauseError {
        let current = known.filter(enabled.contains).joined(separator: ",")
        return .invalidRequest(
            "\(method.name) is in the toolset '\(method.toolset)', which is not enabled (enabled: \(current)); enable it with the "
                + "config key toolsets (wause-mcp --toolsets \(current),\(method.toolset) or --toolsets all)",
            details: ["method": .string(method.name), "toolset": .string(method.toolset),
                      "enabled": .array(known.filter(enabled.contains).map { .string($0) })])
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var slice = Substring(self)
        while slice.first == character { slice.removeFirst() }
        while slice.last == character { slice.removeLast() }
        return String(slice)
    }
}
