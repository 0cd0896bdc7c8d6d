/// The error every surface (C, bindings, MCP) reports: `{code, message, details?}`.
/// `Code` raw values are the stable names of DESIGN.md "Errors"; `cValue` is the number the C API
/// returns for them (see include/wause.h — never renumber).
public struct WauseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case invalidRequest = "invalid_request"
        case notFound = "not_found"
        case ambiguousRecipient = "ambiguous_recipient"
        case whatsappNotPaired = "whatsapp_not_paired"
        case notConnected = "not_connected"
        case pairingFailed = "pairing_failed"
        case rateLimited = "rate_limited"
        case editWindowExpired = "edit_window_expired"
        case mediaTooLarge = "media_too_large"
        case forbiddenPath = "forbidden_path"
        case timeout = "timeout"
        case clientOutdated = "client_outdated"
        case loggedOut = "logged_out"
        case `internal` = "internal"
        // Milestone 2, appended in DESIGN.md "Errors"' order (the C numbers must not move).
        case notOnWhatsApp = "not_on_whatsapp"
        case idempotencyConflict = "idempotency_conflict"
        case forbiddenRecipient = "forbidden_recipient"
        case reachOutRestricted = "reach_out_restricted"
        case staleDeviceSession = "stale_device_session"
        case notAParticipant = "not_a_participant"

        /// The WAUSE_ERR_* value in include/wause.h.
        public var cValue: Int32 { Int32(Code.allCases.firstIndex(of: self)! + 1) }

        public init?(cValue: Int32) {
            let index = Int(cValue) - 1
            guard Code.allCases.indices.contains(index) else { return nil }
            self = Code.allCases[index]
        }

        /// What the code means; the bindings' error classes and docs/tools.md are generated from it.
        public var summary: String {
            switch self {
            case .invalidRequest: "malformed JSON, unknown method, wrong or missing argument, bad config, or use of a closed client"
            case .notFound: "the chat, message, contact or group does not exist"
            case .ambiguousRecipient: "a name matches several contacts or groups (details lists them)"
            case .whatsappNotPaired: "the method needs a linked device"
            case .notConnected: "linked, but the connection is down right now"
            case .pairingFailed: "linking by QR or pairing code failed"
            case .rateLimited: "too many requests; try again later"
            case .editWindowExpired: "the message is too old to edit or revoke"
            case .mediaTooLarge: "the file exceeds the size limit"
            case .forbiddenPath: "the file lies outside the configured directories"
            case .timeout: "an engine-side wait or network round trip ran out of time"
            case .clientOutdated: "the server refused the advertised client version"
            case .loggedOut: "this device was unlinked"
            case .internal: "a failure inside the engine (e.g. a store that cannot be opened)"
            case .notOnWhatsApp: "the phone number has no WhatsApp account (on a send, details.message_id names the failed message)"
            case .idempotencyConflict: "the idempotency key was used before with different arguments"
            case .forbiddenRecipient: "the configuration does not allow sending to this recipient"
            case .reachOutRestricted: "WhatsApp refused a message to someone who has not contacted you (the server's 463)"
            case .staleDeviceSession: "a device's session is out of date (the server's 479)"
            case .notAParticipant: "this account is not a participant of the group"
            }
        }

        /// `{"code", "value", "summary"}`: one row of the catalogue's error table.
        public var json: JSONValue { ["code": .string(rawValue), "value": .int(Int64(cValue)), "summary": .string(summary)] }
    }

    public let code: Code
    public let message: String
    public let details: JSONObject?

    public init(_ code: Code, _ message: String, details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public static func invalidRequest(_ message: String, details: JSONObject? = nil) -> WauseError {
        WauseError(.invalidRequest, message, details: details)
    }

    public static func `internal`(_ message: String) -> WauseError { WauseError(.internal, message) }

    public var json: JSONValue {
        var object: JSONObject = ["code": .string(code.rawValue), "message": .string(message)]
        if let details { object["details"] = .object(details) }
        return .object(object)
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
