import WauseCore
import WauseHTTP

/// The simulator's admin HTTP API (DESIGN.md "The simulator"): JSON in and out, errors as
/// `{code, message}` with a 4xx status. Routes that drive the virtual phones' linking and
/// messaging join with those features.
public struct AdminAPI: Sendable {
    let state: SimState
    let connections: SimConnections

    public init(state: SimState, connections: SimConnections) {
        self.state = state
        self.connections = connections
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        do {
            return try route(request)
        } catch {
            return AdminAPI.failure(error)
        }
    }

    static func failure(_ error: WauseError) -> HTTPResponse {
        let status: Int
        switch error.code {
        case .notFound: status = 404
        case .internal: status = 500
        default: status = 400
        }
        var body: JSONObject = ["code": .string(error.code.rawValue), "message": .string(error.message)]
        if let details = error.details { body["details"] = .object(details) }
        return .json(status, .object(body))
    }

    /// The routes, by path shape (`*` is one path segment) and the methods each allows.
    private enum Route {
        case accounts, accountDevices, accountDevice, connections

        init?(_ parts: [String]) {
            switch (parts.count, parts.first) {
            case (1, "accounts"): self = .accounts
            case (3, "accounts") where parts[2] == "devices": self = .accountDevices
            case (4, "accounts") where parts[2] == "devices": self = .accountDevice
            case (1, "connections"): self = .connections
            default: return nil
            }
        }

        var allowedMethods: [String] {
            switch self {
            case .accounts: return ["GET", "POST"]
            case .accountDevices, .connections: return ["GET"]
            case .accountDevice: return ["DELETE"]
            }
        }
    }

    private func route(_ request: HTTPRequest) throws(WauseError) -> HTTPResponse {
        if request.bodyTooLarge { return .json(413, ["code": "invalid_request", "message": "request body too large"]) }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let route = Route(parts) else { throw WauseError(.notFound, "no such route: \(request.method) \(request.path)") }
        guard route.allowedMethods.contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
        }
        switch (route, request.method) {
        case (.accounts, "GET"):
            return .json(200, .array(try state.accounts().map(\.json)))
        case (.accounts, _):
            let body = try AdminAPI.body(request)
            guard let phone = body["phone"]?.stringValue else { throw .invalidRequest("phone (a string) is required") }
            let pushName = body["push_name"]
            if let pushName, !pushName.isNull, pushName.stringValue == nil { throw .invalidRequest("push_name must be a string") }
            return .json(201, try state.createAccount(phone: phone, pushName: pushName?.stringValue).json)
        case (.accountDevices, _):
            let account = try existingAccount(parts[1])
            return .json(200, .array(try state.devices(phone: account.phone).map(\.json)))
        case (.accountDevice, _):
            let account = try existingAccount(parts[1])
            guard let number = Int(parts[3]), number > 0 else { throw .invalidRequest("device must be a positive integer") }
            guard let removed = try state.removeDevice(phone: account.phone, device: number) else {
                throw WauseError(.notFound, "account \(account.phone) has no device \(number)")
            }
            // Online: it gets the logout stanza now; offline: failure 401 when it next logs in.
            let online = connections.disconnect(device: "\(account.phone):\(number)@s.whatsapp.net", reason: .deviceRemoved)
            var result = removed.json.objectValue ?? JSONObject()
            result["ok"] = true
            result["was_online"] = .bool(online > 0)
            return .json(200, .object(result))
        case (.connections, _):
            return .json(200, connections.json)
        }
    }

    private func existingAccount(_ phone: String) throws(WauseError) -> SimAccount {
        guard let account = try state.account(phone: phone) else { throw WauseError(.notFound, "no account \(phone)") }
        return account
    }

    private static func body(_ request: HTTPRequest) throws(WauseError) -> JSONObject {
        guard !request.body.isEmpty else { throw .invalidRequest("a JSON object body is required") }
        do {
            guard let object = try JSONValue.parse(bytes: request.body).objectValue else {
                throw WauseError.invalidRequest("the body must be a JSON object")
            }
            return object
        } catch let error as JSONParseError {
            throw .invalidRequest("the body is not valid JSON: \(error)")
        } catch let error as WauseError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }
}
