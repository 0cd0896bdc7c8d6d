import WauseBinary
import WauseProto
import WauseProtocol
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// The media area's I/O as the rest of the engine sees it, built once in `WauseClient.init`: the
/// cached `media_conn`, uploads (the outbox calls `prepare` before it encrypts a queued media
/// message) and downloads (`whatsapp_download_media` and the `media_auto_download` policy).
struct MediaTransfers: Sendable {
    let store: Store
    let connection: MediaConnection
    let uploads: MediaUpload
    let downloads: MediaDownload
    let retry: MediaRetry
    let config: ClientConfig
    let logger: Logger

    init(store: Store, link: ServerLink, config: ClientConfig, http: MediaHTTP, environment: Environment, logger: Logger) {
        self.store = store
        self.config = config
        self.logger = logger
        connection = MediaConnection(link: link, environment: environment)
        uploads = MediaUpload(connection: connection, http: http, environment: environment, logger: logger)
        downloads = MediaDownload(connection: connection, http: http, environment: environment, logger: logger,
                                  mediaDirectory: config.dataDirectory + "/media", maxBytes: config.mediaMaxBytes)
        retry = MediaRetry(link: link, environment: environment, logger: logger)
    }

    /// The stanzas the media area answers on a logged-in connection (`mediaretry` notifications).
    func route(_ router: inout StanzaRouter) { retry.route(&router) }

    /// Downloads a received file; one the host says has expired (404/410) is asked of the sender's
    /// phone again (MediaRetry) and, with the new direct path it answers, downloaded once more.
    func download(_ stored: Store.StoredMedia) async throws(WauseError) -> MediaDownload.Downloaded {
        do {
            return try await downloads.download(stored)
        } catch where error.details?["reason"] == "media_expired" {
            guard let account = try store.linkedAccount(), let own = JID(LinkedAccount.userJID(account.jid)),
                  let directPath = try await retry.newDirectPath(for: stored, ownJID: own, sender: stored.senderJID.flatMap(JID.init))
            else { throw error }
            try store.updateDirectPath(rowid: stored.rowid, directPath: directPath)
            var fresh = stored
            fresh.media.directPath = directPath
            fresh.media.url = nil
            return try await downloads.download(fresh)
        }
    }

    /// Asks the media host to delete a blob we were sent and have filed (a history-sync chunk:
    /// whatsmeow message.go handleHistorySyncNotification then upload.go DeleteMedia). Throws when
    /// no host agreed; callers treat that as best effort. A 404 counts as done (nothing is left to
    /// delete); a 401/403 asks `media_conn` once more.
    func delete(directPath: String, type: WauseProtocol.MediaType, fileEncSha256: [UInt8]) async throws {
        var lastProblem = "no media host answered"
        for round in 0..<2 {
            let conn = try await connection.current()
            var refused = false
            for host in conn.hosts {
                let url = "https://\(host.hostname)"
                    + MediaURLs.deletePathAndQuery(type: type, directPath: directPath, fileEncSha256: fileEncSha256, auth: conn.auth)
                let status: Int
                do { status = try await downloads.http.delete(url) } catch {
                    lastProblem = "\(host.hostname): \(error)"
                    continue
                }
                switch status {
                case 200..<300, 404: return
                case 401, 403:
                    lastProblem = "\(host.hostname) refused the media auth (HTTP \(status))"
                    refused = true
                default:
                    lastProblem = "\(host.hostname) answered HTTP \(status)"
                }
            }
            guard refused, round == 0 else { break }
            connection.invalidate()
        }
        throw WauseError(.notConnected, "the blob could not be deleted: \(lastProblem)")
    }

    /// Where the encrypted copy of an outgoing file waits for its upload.
    static func encryptedPath(plaintext path: String) -> String { path + ".enc" }

    /// Removes the engine's copies of a file whose send was cancelled before it went (a
    /// scheduled send, a bulk item): the copy taken in under `<data_dir>/media/outgoing/` and its
    /// encrypted twin. Nothing will upload or read them any more; the media row keeps the
    /// file's description and loses its path. Only copies in that folder are ever removed.
    func discardOutgoingCopies(messageID: String) {
        guard let stored = try? store.media(messageID: messageID), stored.fromMe, let path = stored.path,
              path.hasPrefix(config.dataDirectory + "/media/outgoing/"), !path.contains("/../")
        else { return }
        do {
            try store.setMediaPath(rowid: stored.rowid, path: nil)
        } catch {
            logger.warning("media: could not forget the copy of cancelled message \(messageID): \(error.message)")
            return
        }
        unlink(MediaTransfers.encryptedPath(plaintext: path))
        unlink(path)
    }

    /// A queued message whose file is not uploaded yet is uploaded now, and its payload (with
    /// the direct path) replaces the queued one before anything is encrypted, so a retry or a
    /// restart after this point sends the same upload instead of uploading twice.
    func prepare(_ entry: Store.OutboxEntry) async throws -> Store.OutboxEntry {
        guard let message = try? WAWebProtobufsE2E_Message(serializedBytes: entry.payload), MediaMessage.needsUpload(message),
              let stored = try store.media(messageID: entry.messageID), let type = stored.media.cryptoType,
              let encSha256 = stored.media.encSha256, let plain = stored.path
        else { return entry }
        let encrypted = MediaTransfers.encryptedPath(plaintext: plain)
        let length = Int64(MediaCrypto.encryptedLength(plaintextLength: UInt64(stored.media.size ?? 0)))
        let uploaded = try await uploads.upload(encryptedPath: encrypted, length: length, type: type, fileEncSha256: encSha256)
        let payload = try MessageFormat.encode(MediaMessage.uploaded(message, url: uploaded.url, directPath: uploaded.directPath))
        try store.replaceOutboxPayload(entryID: entry.id, messageID: entry.messageID, payload: payload)
        try store.noteUploaded(messageID: entry.messageID, directPath: uploaded.directPath, url: uploaded.url)
        unlink(encrypted)
        var updated = entry
        updated.payload = payload
        return updated
    }

    /// Downloads a received file now when `media_auto_download` covers its type and size.
    func autoDownload(rowid: Int64, messageID: String, media: MediaMessage) {
        guard media.hasFile, (media.size ?? .max) <= config.mediaAutoDownloadMaxBytes else { return }
        let type: MediaType? = switch media.type {
        case "ptt": .voice
        default: MediaType(rawValue: media.type)
        }
        guard let type else { return }
        switch config.mediaAutoDownload {
        case .never: return
        case .all: break
        case .only(let types): guard types.contains(type) else { return }
        }
        Task { [self] in
            do {
                guard let stored = try store.media(messageID: messageID), stored.path == nil else { return }
                let file = try await download(stored)
                try store.setMediaPath(rowid: stored.rowid, path: file.path)
            } catch {
                logger.warning("media: automatic download of \(messageID) failed: \(error)")
            }
        }
    }
}
