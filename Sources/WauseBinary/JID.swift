/// A WhatsApp address ("Jabber ID"): a user, device or agent of a user, group, broadcast list,
/// newsletter or server (whatsmeow `types/jid.go`).
///
/// The fields mirror whatsmeow's `types.JID`, the reference for what the server accepts:
/// `user`, `rawAgent` (the AD-JID agent byte when it is not implied by the server), `device`,
/// `integrator` (interop JIDs only) and `server`.
///
/// The text form is whatsmeow's `String()` (whatsmeow types/jid.go): `user.agent:device@server` when an agent is
/// set, `user:device@server` when a device is set, `user@server`, or just `server`. Interop
/// JIDs with an integrator print Baileys' form `integrator-user:device@interop`, because
/// whatsmeow's form drops the integrator. `JID(parsing:)` reads all of these back.
public struct JID: Hashable, Sendable {
    public var user: String
    /// The agent byte of an AD-JID whose server does not determine it (whatsmeow binary/encoder.go writeJID "otherwise
    /// RawAgent"). Zero for ordinary users; the domain type of lid/hosted servers is implied.
    public var rawAgent: UInt8
    /// 0 is the primary device (the phone); companions get theirs at pairing (whatsmeow types/jid.go).
    public var device: UInt16
    /// Interop JIDs only: the integrator id.
    public var integrator: UInt16
    public var server: Server

    public init(user: String = "", rawAgent: UInt8 = 0, device: UInt16 = 0, integrator: UInt16 = 0, server: Server) {
        self.user = user
        self.rawAgent = rawAgent
        self.device = device
        self.integrator = integrator
        self.server = server
    }

    /// A server-only JID such as `s.whatsapp.net`, the `to` of most IQs.
    public init(server: Server) {
        self.init(user: "", server: server)
    }
}

// MARK: - Servers

extension JID {
    /// The part after `@`. An open set: the server may introduce new ones, so any string is
    /// allowed and the known ones have names.
    public struct Server: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// Phone-number users; also the server JID that IQs are addressed to.
        public static let whatsApp: Server = "s.whatsapp.net"
        /// Hidden "linked identity" users.
        public static let lid: Server = "lid"
        /// Groups.
        public static let group: Server = "g.us"
        /// The legacy user server (`0@c.us`, `16505361212@c.us`).
        public static let legacyUser: Server = "c.us"
        /// Broadcast lists; `status@broadcast` is the status feed.
        public static let broadcast: Server = "broadcast"
        /// Channels.
        public static let newsletter: Server = "newsletter"
        /// Calls (listed by Baileys).
        public static let call: Server = "call"
        /// Messenger users, written as FB_JID (whatsmeow binary/encoder.go writeJID).
        public static let messenger: Server = "msgr"
        /// Interop users, written as INTEROP_JID (whatsmeow binary/encoder.go writeJID).
        public static let interop: Server = "interop"
        /// Cloud API / hosted accounts, always written as AD_JID (whatsmeow binary/encoder.go writeJID).
        public static let hosted: Server = "hosted"
        public static let hostedLID: Server = "hosted.lid"
        /// Meta AI bots.
        public static let bot: Server = "bot"
    }

    /// The AD-JID agent byte ("domain type") of each server that implies one (whatsmeow types/jid.go): WHATSAPP=0,
    /// LID=1, HOSTED=128, HOSTED_LID=129 (whatsmeow `WhatsAppDomain`…, Baileys `WAJIDDomains`).
    public enum DomainType {
        public static let whatsApp: UInt8 = 0
        public static let lid: UInt8 = 1
        public static let hosted: UInt8 = 128
        public static let hostedLID: UInt8 = 129
    }
}

// MARK: - Well-known JIDs (whatsmeow types/jid.go)

extension JID {
    /// `s.whatsapp.net`: the `to` of IQs addressed to the server.
    public static let whatsAppServer = JID(server: .whatsApp)
    public static let groupServer = JID(server: .group)
    public static let broadcastServer = JID(server: .broadcast)
    /// `status@broadcast`: the status feed.
    public static let statusBroadcast = JID(user: "status", server: .broadcast)
    /// `0@s.whatsapp.net`: public service announcements.
    public static let psa = JID(user: "0", server: .whatsApp)
    public static let legacyPSA = JID(user: "0", server: .legacyUser)
    public static let officialBusiness = JID(user: "16505361212", server: .legacyUser)
}

// MARK: - Derived values

extension JID {
    /// The agent byte written in an AD_JID: implied by the server where it can be, otherwise the
    /// raw agent (whatsmeow types/jid.go `ActualAgent`, binary/encoder.go writeJID).
    public var actualAgent: UInt8 {
        switch server {
        case .whatsApp: return DomainType.whatsApp
        case .lid: return DomainType.lid
        case .hosted: return DomainType.hosted
        case .hostedLID: return DomainType.hostedLID
        default: return rawAgent
        }
    }

    /// The JID of the user without agent and device (whatsmeow `ToNonAD`): the address of a
    /// person or chat rather than one of its devices. The integrator is kept because it is part
    /// of an interop user's identity.
    public var userJID: JID {
        JID(user: user, integrator: integrator, server: server)
    }

    /// True for JIDs naming a server alone, such as `s.whatsapp.net`.
    public var isServerOnly: Bool { user.isEmpty && rawAgent == 0 && device == 0 && integrator == 0 }

    /// The JID an AD_JID with this agent byte stands for (whatsmeow types/jid.go NewADJID: 1 → lid, 128 → hosted,
    /// 129 → hosted.lid, anything else → s.whatsapp.net keeping the byte as raw agent;
    /// whatsmeow `NewADJID`).
    public init(adUser user: String, agent: UInt8, device: UInt8) {
        switch agent {
        case DomainType.lid: self.init(user: user, device: UInt16(device), server: .lid)
        case DomainType.hosted: self.init(user: user, device: UInt16(device), server: .hosted)
        case DomainType.hostedLID: self.init(user: user, device: UInt16(device), server: .hostedLID)
        default: self.init(user: user, rawAgent: agent, device: UInt16(device), server: .whatsApp)
        }
    }
}

// MARK: - Text form

/// Why a string is not a JID.
public struct JIDParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var input: String
    public var reason: String
    public var description: String { "invalid JID \"\(input)\": \(reason)" }
}

extension JID: CustomStringConvertible, LosslessStringConvertible {
    /// whatsmeow's `String()` form (whatsmeow types/jid.go), or Baileys' form for interop JIDs with an integrator.
    public var description: String {
        var userPart = user
        if server == .interop && (integrator != 0 || user.contains("-")) {
            // Baileys' interop form "{integrator}-{user}:{device}@interop" keeps the integrator.
            userPart = "\(integrator)-\(user)"
        }
        if rawAgent > 0 {
            return "\(userPart).\(rawAgent):\(device)@\(server.rawValue)"
        }
        if device > 0 {
            return "\(userPart):\(device)@\(server.rawValue)"
        }
        if !userPart.isEmpty {
            return "\(userPart)@\(server.rawValue)"
        }
        return server.rawValue
    }

    /// False when `description` would not parse back to this JID, e.g. a user containing `.`,
    /// `:` or `@`, which the text form cannot express (whatsmeow has the same limitation).
    public var hasLosslessTextForm: Bool {
        (try? JID(parsing: description)) == self
    }

    public init?(_ description: String) {
        guard let parsed = try? JID(parsing: description) else { return nil }
        self = parsed
    }

    /// Parses every form `description` prints (whatsmeow types/jid.go `ParseJID`): no `@` means a
    /// server-only JID; a `.` in the user part introduces `agent[:device]`; otherwise a `:`
    /// introduces the device. Unlike whatsmeow this rejects out-of-range numbers instead of
    /// truncating them, and rejects more than one `@`.
    public init(parsing text: String) throws(JIDParseError) {
        func fail(_ reason: String) -> JIDParseError { JIDParseError(input: text, reason: reason) }

        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw fail("more than one '@'") }
        guard let serverPart = parts.last, !serverPart.isEmpty else { throw fail("empty server") }
        let server = Server(String(serverPart))
        if parts.count == 1 {
            self.init(server: server)
            return
        }
        var userPart = parts[0]

        var integrator: UInt16 = 0
        if server == .interop, let dash = userPart.firstIndex(of: "-") {
            // Baileys' interop form: "{integrator}-{user}:{device}".
            guard let value = UInt16(userPart[..<dash]) else { throw fail("interop integrator is not a number 0...65535") }
            integrator = value
            userPart = userPart[userPart.index(after: dash)...]
        }

        if let dot = userPart.firstIndex(of: ".") {
            // "user.agent[:device]"
            let user = userPart[..<dot]
            let agentAndDevice = userPart[userPart.index(after: dot)...]
            let pieces = agentAndDevice.split(separator: ":", omittingEmptySubsequences: false)
            guard !agentAndDevice.contains("."), pieces.count <= 2 else { throw fail("unexpected number of dots or colons") }
            guard let agent = UInt8(pieces[0]) else { throw fail("agent is not a number 0...255") }
            var device: UInt16 = 0
            if pieces.count == 2 {
                guard let value = UInt16(pieces[1]) else { throw fail("device is not a number 0...65535") }
                device = value
            }
            self.init(user: String(user), rawAgent: agent, device: device, integrator: integrator, server: server)
        } else if let colon = userPart.firstIndex(of: ":") {
            // "user:device"
            let devicePart = userPart[userPart.index(after: colon)...]
            guard !devicePart.contains(":") else { throw fail("more than one ':'") }
            guard let device = UInt16(devicePart) else { throw fail("device is not a number 0...65535") }
            self.init(user: String(userPart[..<colon]), device: device, integrator: integrator, server: server)
        } else {
            self.init(user: String(userPart), integrator: integrator, server: server)
        }
    }
}
