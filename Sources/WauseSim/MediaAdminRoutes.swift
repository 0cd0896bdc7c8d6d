import WauseBinary
import WauseCrypto
import WauseHTTP
import WauseSupport

/// The admin routes about media (tests/sim/README.md): `DELETE /media?direct_path=…` expires a
/// blob, so a download of it answers 410 and a client's expired-media path (whatsmeow
/// mediaretry.go) can be tested; `POST /accounts/{phone}/send` with a `type` other than text has
/// the phone send media, a location or a contact card.
extension AdminAPI {
    /// A phone's media travels as base64 in `POST /accounts/{phone}/send`; 48 MB of JSON holds
    /// about 36 MB of file.
    static let maximumBodySize = 48 * 1024 * 1024

    func mediaRoute(_ request: HTTPRequest, parts: [String]) throws(WauseError) -> HTTPResponse? {
        if parts == ["media", "faults"] { return try mediaFaultsRoute(request) }
        guard parts == ["media"] else { return nil }
        guard request.method == "DELETE" else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on /media")],
                         headers: [("Allow", "DELETE")])
        }
        guard let directPath = request.query("direct_path"), !directPath.isEmpty else {
            throw .invalidRequest("direct_path (the blob's direct path, as the upload answered it) is required")
        }
        guard MediaStore.id(of: directPath) != nil else {
            throw .invalidRequest("direct_path is not one this simulator issues (/v/t62.7118-24/<id>.enc?…)",
                                  details: ["direct_path": .string(directPath)])
        }
        switch media.lookup(directPath: directPath) {
        case .unknown:
            throw WauseError(.notFound, "no media at \(directPath)", details: ["direct_path": .string(directPath)])
        case .expired:
            return .json(200, ["ok": true, "direct_path": .string(directPath), "expired": true, "was_expired": true])
        case .found:
            guard media.expire(directPath: directPath) else { throw .internal("cannot expire \(directPath)") }
            return .json(200, ["ok": true, "direct_path": .string(directPath), "expired": true, "was_expired": false])
        }
    }

    /// `POST /accounts/{phone}/send {to, type, data_base64, mimetype?, file_name?, caption?}` (or
    /// `latitude`/`longitude`/`name?`/`address?` for `location`, `vcard`/`name?` for `vcard`): 200
    /// `{ok, message_id, timestamp, to, from, type, direct_path?, sha256?}` once it is queued.
    func sendMedia(_ account: SimAccount, to: String, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let kindName = body["type"]?.stringValue else { throw .invalidRequest("type must be a string") }
        let request = try PhoneMedia.Request(body: body, kindName: kindName)
        if to.hasSuffix("@g.us") { throw .invalidRequest("a phone sends media to one person here, not to a group") }
        let chat = try AdminAPI.userChat(to)
        let sent = try phones.send(from: account, to: chat, media: request)
        var result: JSONObject = [
            "ok": true, "message_id": .string(sent.id), "timestamp": .string(ISO8601.string(fromUnixMilliseconds: sent.t * 1000)),
            "to": .string(chat.description), "from": .string(account.jid), "type": .string(request.kind.rawValue),
        ]
        if !request.data.isEmpty { result["sha256"] = .string(Hex.encode(Hash.sha256(request.data))) }
        return .json(200, .object(result))
    }

    /// `POST /media/faults {status? | drop? | hold?, count?, on?}` queues faults for the media
    /// host's next transfers (`MediaFaults`); `GET` answers what is pending and the transfers
    /// begun; `DELETE` drops what is pending and releases held uploads.
    func mediaFaultsRoute(_ request: HTTPRequest) throws(WauseError) -> HTTPResponse {
        let faults = media.faults
        switch request.method {
        case "GET":
            return .json(200, faults.json)
        case "DELETE":
            let dropped = faults.clear()
            var answer = faults.json.objectValue ?? [:]
            answer["ok"] = true
            answer["dropped"] = .int(Int64(dropped))
            return .json(200, .object(answer))
        case "POST":
            let body = try AdminAPI.body(request)
            let action: MediaFaults.Action
            let status = body["status"], drop = body["drop"]?.boolValue ?? false, hold = body["hold"]?.boolValue ?? false
            switch (status, drop, hold) {
            case (let status?, false, false):
                guard let code = status.intValue, (400...599).contains(code) else {
                    throw .invalidRequest("status must be an HTTP error status (400–599)")
                }
                action = .status(Int(code))
            case (nil, true, false): action = .drop
            case (nil, false, true): action = .hold
            default: throw .invalidRequest("give exactly one of status, drop: true or hold: true")
            }
            let count = body["count"]?.intValue ?? 1
            guard (1...100).contains(count) else { throw .invalidRequest("count must be between 1 and 100") }
            let direction: MediaFaults.Direction
            if let on = body["on"] {
                guard let name = on.stringValue, let named = MediaFaults.Direction(rawValue: name) else {
                    throw .invalidRequest("on must be upload, download, any or delete")
                }
                direction = named
            } else {
                direction = .upload
            }
            if action == .hold && direction != .upload { throw .invalidRequest("only uploads can be held") }
            faults.add(.init(direction: direction, action: action), count: Int(count))
            var answer = faults.json.objectValue ?? [:]
            answer["ok"] = true
            return .json(200, .object(answer))
        default:
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on /media/faults")],
                         headers: [("Allow", "GET, POST, DELETE")])
        }
    }
}
