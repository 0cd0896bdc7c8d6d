/// Where a Signal session lives: libsignal's `ProtocolAddress`, a (name, device id) pair.
///
/// WhatsApp derives it from a device JID `user[.agent][:device]@server` (whatsmeow
/// `types/jid.go` `SignalAddressUser`/`ActualAgent`, Baileys
/// `jidToSignalProtocolAddress`): the name is the JID's user, with `_<domain>` appended when the
/// JID's domain type is not 0, and the device id is the JID's device (0 when absent). The domain
/// type comes from the server — `s.whatsapp.net` 0, `lid` 1, `hosted` 128, `hosted.lid` 129 — and
/// for any other server from the JID's raw agent. So `12345@lid` device 3 is `12345_1`, device 3,
/// while `4915123:2@s.whatsapp.net` is `4915123`, device 2. The string form `name:device` is
/// whatsmeow's (libsignal-node writes `name.device`); it only names storage rows.
public struct SignalAddress: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let deviceId: UInt32

    public init(name: String, deviceId: UInt32) {
        self.name = name
        self.deviceId = deviceId
    }

    /// The domain type of a WhatsApp server, or nil for servers whose JIDs carry their own agent.
    public static func domainType(forServer server: String) -> UInt8? {
        switch server {
        case "s.whatsapp.net": return 0
        case "lid": return 1
        case "hosted": return 128
        case "hosted.lid": return 129
        default: return nil
        }
    }

    /// The address of one device of a WhatsApp user.
    public init(user: String, agent: UInt8 = 0, device: UInt16 = 0, server: String) {
        let domain = Self.domainType(forServer: server) ?? agent
        self.init(name: domain == 0 ? user : "\(user)_\(domain)", deviceId: UInt32(device))
    }

    /// Parses a device JID `user[.agent][:device]@server` (whatsmeow's string form). Returns nil
    /// for text that is not a user JID: no `@`, an empty user or server, or a non-numeric agent
    /// or device.
    public init?(jid: String) {
        guard let at = jid.lastIndex(of: "@") else { return nil }
        let server = String(jid[jid.index(after: at)...])
        var user = Substring(jid[..<at])
        var device: UInt16 = 0
        var agent: UInt8 = 0
        if let colon = user.lastIndex(of: ":") {
            guard let parsed = UInt16(user[user.index(after: colon)...]) else { return nil }
            device = parsed
            user = user[..<colon]
        }
        if let dot = user.lastIndex(of: ".") {
            guard let parsed = UInt8(user[user.index(after: dot)...]) else { return nil }
            agent = parsed
            user = user[..<dot]
        }
        guard !user.isEmpty, !server.isEmpty else { return nil }
        self.init(user: String(user), agent: agent, device: device, server: server)
    }

    public var description: String { "\(name):\(deviceId)" }
}
