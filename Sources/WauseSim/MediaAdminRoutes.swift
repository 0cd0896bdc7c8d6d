import WauseHTTP
import WauseSupport

/// The admin routes about media blobs (tests/sim/README.md): `DELETE /media?direct_path=…`
/// expires a blob, so a download of it answers 410 and a client's expired-media path (whatsmeow
/// mediaretry.go) can be tested.
extension AdminAPI {
    /// A phone's media travels as base64 in `POST /accounts/{phone}/send`; 48 MB of JSON holds
    /// about 36 MB of file.
    static let maximumBodySize = 48 * 1024 * 1024

    func mediaRoute(_ request: HTTPRequest, parts: [String]) throws(WauseError) -> HTTPResponse? {
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
}
