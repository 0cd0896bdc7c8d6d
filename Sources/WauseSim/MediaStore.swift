import Synchronization
import WauseCrypto
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// The simulator's media blobs: what clients upload to its HTTPS media endpoint (`MediaServer`)
/// and what the virtual phones upload for themselves, each an encrypted file under
/// `DIR/media/` named by its direct path's id, plus the `auth` values `media_conn` handed out.
///
/// A direct path looks like WhatsApp's (whatsmeow upload.go UploadResponse.DirectPath; download.go
/// appends `&hash=…` to it, so it always carries a query): `/v/t62.7118-24/<32 hex>.enc?ccb=11-4&oh=…&oe=…`.
/// The 128-bit random id alone picks the blob; the query is decoration. An expired blob (the admin
/// `DELETE /media?direct_path=…`) loses its bytes and leaves a marker, so a download then answers
/// 410 Gone rather than 404, as WhatsApp's media hosts do for expired media (whatsmeow download.go
/// treats both as final and asks the phone to re-upload, mediaretry.go).
final class MediaStore: Sendable {
    /// How long a `media_conn` answer may be cached, and how long its auth is accepted (seconds).
    static let ttl = 300
    static let authTTL = 21_600
    /// whatsmeow requires the attribute; the number means nothing here.
    static let maxBuckets = 12
    /// The mms types whatsmeow uploads to (download.go mediaTypeToMMSType) and Baileys' `ptt`.
    static let mmsTypes: Set<String> = ["image", "video", "audio", "ptt", "document", "md-msg-hist", "md-app-state", "sticker-pack",
                                        "thumbnail-link"]

    let directory: String
    let environment: Environment
    /// What the host plays on its next transfers (the admin `POST /media/faults`).
    let faults = MediaFaults()
    /// auth → the unix second it stops being accepted, and the account whose device asked for it.
    private let auths = Mutex<[String: (expiry: Int64, account: String?)]>([:])

    init(directory: String, environment: Environment) throws(WauseError) {
        self.directory = directory + "/media"
        self.environment = environment
        for folder in [self.directory, self.directory + "/incoming", self.directory + "/sent"] {
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                throw WauseError(.internal, "cannot create \(folder): \(String(cString: strerror(errno)))")
            }
            chmod(folder, 0o700)
        }
        // Half-received uploads of a previous run: never committed, so nobody knows their paths.
        if let dir = opendir(self.directory + "/incoming") {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { unlink(self.directory + "/incoming/" + name) }
            }
            closedir(dir)
        }
    }

    // MARK: media_conn auth

    /// A fresh auth for a `media_conn` answer to a device of `account` (what it uploads is that
    /// account's, and it may delete what belongs to that account).
    func issueAuth(account: String? = nil) -> String {
        let auth = Base64.encode(environment.randomBytes(24))
        let now = environment.now().seconds
        auths.withLock { auths in
            auths = auths.filter { $0.value.expiry > now }
            auths[auth] = (now + Int64(MediaStore.authTTL), account)
        }
        faults.noteAuthIssued()
        return auth
    }

    /// Stops accepting `auth` (a 401/403 fault: the client must ask `media_conn` again).
    func revokeAuth(_ auth: String) {
        _ = auths.withLock { $0.removeValue(forKey: auth) }
    }

    func isValidAuth(_ auth: String) -> Bool {
        let now = environment.now().seconds
        return auths.withLock { $0[auth].map { $0.expiry > now } ?? false }
    }

    /// The account a valid auth was handed to (nil: unknown or expired auth, or one given to nobody in particular).
    func account(ofAuth auth: String) -> String? {
        let now = environment.now().seconds
        return auths.withLock { $0[auth].flatMap { $0.expiry > now ? $0.account : nil } }
    }

    // MARK: Blobs

    enum Lookup: Equatable {
        case found(path: String, size: Int64)
        case expired
        case unknown
    }

    /// A new upload's temporary file (0600) and the descriptor to write it through.
    func beginUpload() throws(WauseError) -> (path: String, descriptor: Int32) {
        let path = directory + "/incoming/" + Hex.encode(environment.randomBytes(16))
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WauseError(.internal, "cannot create \(path): \(String(cString: strerror(errno)))") }
        return (path, descriptor)
    }

    /// Files a finished upload under a new direct path (the rename is the commit: a blob is
    /// either whole under its name or not there).
    /// `owners`: the accounts that may delete the blob (`DELETE /mms/…`): its uploader's, or for a
    /// blob a phone put up for its own companions (a history-sync chunk), that account.
    func commit(temporary: String, owners: [String] = []) throws(WauseError) -> String {
        let id = Hex.encode(environment.randomBytes(16))
        if !owners.isEmpty {
            // Written before the rename: a blob is never there without its owners.
            let bytes = Array(owners.joined(separator: "\n").utf8)
            let descriptor = open(ownersPath(id), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw WauseError(.internal, "cannot store the upload's owners: \(String(cString: strerror(errno)))") }
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            guard written == bytes.count else { throw WauseError(.internal, "cannot store the upload's owners") }
        }
        guard rename(temporary, blobPath(id)) == 0 else {
            unlink(ownersPath(id))
            throw WauseError(.internal, "cannot store the upload: \(String(cString: strerror(errno)))")
        }
        return directPath(id: id)
    }

    /// Stores bytes the simulator itself uploads (a virtual phone's media).
    func store(_ bytes: [UInt8], owners: [String] = []) throws(WauseError) -> String {
        try commit(temporary: try write(bytes), owners: owners)
    }

    /// The accounts that may delete the blob at `directPath` (none for a blob nobody owns: a phone's media to others).
    func owners(directPath: String) -> [String] {
        guard let id = MediaStore.id(of: directPath), let file = MediaFile(path: ownersPath(id)) else { return [] }
        defer { file.close() }
        var bytes: [UInt8] = []
        while let piece = file.read(4096) { bytes += piece }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Deletes a blob for good (its owner's `DELETE /mms/…`): afterwards the path is unknown (404).
    /// False when the path names no blob.
    func delete(directPath: String) -> Bool {
        guard let id = MediaStore.id(of: directPath), case .found = lookup(directPath: directPath) else { return false }
        guard unlink(blobPath(id)) == 0 else { return false }
        unlink(ownersPath(id))
        return true
    }

    /// A sending phone's own copy of an encrypted file, by its SHA-256 (`fileEncSha256`): a real
    /// phone keeps what it sent, and uploads it again when a device asks (whatsmeow mediaretry.go).
    /// Expiring the uploaded blob leaves this copy.
    func keepSent(_ bytes: [UInt8]) throws(WauseError) {
        let temporary = try write(bytes)
        guard rename(temporary, sentPath(Hash.sha256(bytes))) == 0 else {
            unlink(temporary)
            throw WauseError(.internal, "cannot keep the sent media: \(String(cString: strerror(errno)))")
        }
    }

    /// Uploads a phone's kept copy again under a new direct path; nil when the phone has none.
    func reuploadSent(fileEncSHA256: [UInt8]) throws(WauseError) -> String? {
        guard fileEncSHA256.count == 32 else { return nil }
        let temporary = directory + "/incoming/" + Hex.encode(environment.randomBytes(16))
        // A hard link: the same bytes, no copy; expiring the blob again unlinks only its own name.
        guard link(sentPath(fileEncSHA256), temporary) == 0 else { return nil }
        return try commit(temporary: temporary)
    }

    /// Writes bytes to a new file under incoming/ and answers its path.
    private func write(_ bytes: [UInt8]) throws(WauseError) -> String {
        let upload = try beginUpload()
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(upload.descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                close(upload.descriptor)
                unlink(upload.path)
                throw WauseError(.internal, "cannot write media: \(String(cString: strerror(errno)))")
            }
            written += result
        }
        close(upload.descriptor)
        return upload.path
    }

    func lookup(directPath: String) -> Lookup {
        guard let id = MediaStore.id(of: directPath) else { return .unknown }
        var info = stat()
        if stat(blobPath(id), &info) == 0 { return .found(path: blobPath(id), size: Int64(info.st_size)) }
        if access(expiredPath(id), F_OK) == 0 { return .expired }
        return .unknown
    }

    /// Expires a blob: its bytes are deleted, downloads answer 410. False when the path names no blob.
    func expire(directPath: String) -> Bool {
        guard let id = MediaStore.id(of: directPath), case .found = lookup(directPath: directPath) else { return false }
        let marker = open(expiredPath(id), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if marker >= 0 { close(marker) }
        return unlink(blobPath(id)) == 0
    }

    /// The id in `/v/t62.7118-24/<id>.enc?…` (with or without the query); nil for anything else.
    static func id(of directPath: String) -> String? {
        let path = directPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let prefix = "/v/t62.7118-24/"
        guard path.hasPrefix(prefix), path.hasSuffix(".enc") else { return nil }
        let id = String(path.dropFirst(prefix.count).dropLast(4))
        guard id.count == 32, id.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return id
    }

    private func directPath(id: String) -> String {
        let expiry = String(environment.now().seconds + 30 * 86_400, radix: 16, uppercase: true)
        return "/v/t62.7118-24/\(id).enc?ccb=11-4&oh=01_\(Hex.encode(environment.randomBytes(8)))&oe=\(expiry)&_nc_sid=5e03e0"
    }

    private func blobPath(_ id: String) -> String { directory + "/" + id + ".enc" }
    private func sentPath(_ fileEncSHA256: [UInt8]) -> String { directory + "/sent/" + Hex.encode(fileEncSHA256) + ".enc" }
    private func expiredPath(_ id: String) -> String { directory + "/" + id + ".expired" }
    private func ownersPath(_ id: String) -> String { directory + "/" + id + ".owners" }
}

/// A blob opened for reading in chunks (PhoneMedia.verifyFile).
final class MediaFile {
    private let descriptor: Int32
    let size: Int64

    init?(path: String) {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        size = Int64(info.st_size)
    }

    /// Up to `count` bytes; nil at the end (or on an error).
    func read(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + done, count - done) }
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { break }
            done += result
        }
        guard done > 0 else { return nil }
        bytes.removeLast(count - done)
        return bytes
    }

    func rewind() { lseek(descriptor, 0, SEEK_SET) }
    func close() { Glibc.close(descriptor) }
}
