import FoundationEssentials
import Synchronization
import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// App state (syncd) as a linked device keeps it (whatsmeow appstate.go `FetchAppState`,
/// `fetchAppStatePatches`, `applyAppStatePatches`, message.go `handleAppStateSyncKeyShare`,
/// notification.go `handleAppStateNotification`; Baileys chats.ts `resyncAppState`):
///
/// - The phone's key shares are stored (before the message is receipted), then every collection is
///   fetched — as whatsmeow does after a share.
/// - On login (once keys are held) and on each `server_sync`, the named collections are fetched
///   from our version: a snapshot when we have none (an external blob through the media layer),
///   then patches page by page, every LTHash and MAC checked (WauseProtocol's
///   `AppStateCollectionState`); the new version, hash and MACs are stored with what the mutations
///   change in chats and messages, in one transaction per page.
/// - A failure never wedges a collection silently: a MAC or hash that does not match resets the
///   collection and fetches it again from a snapshot (Baileys' forced snapshot; whatsmeow's
///   recovery), a key we lack parks the collection until the phone's next share, and each case is
///   announced as `appstate.error {collection, reason, action}`. Nothing here unlinks.
///
/// Syncs run one at a time on a worker task (like the outbox's), so a `server_sync` that arrives
/// mid-fetch is folded into the next round rather than racing it.
final class AppStateSync: Sendable {
    let store: Store
    let link: ServerLink
    let media: MediaTransfers
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher
    /// For the key request to our phone (a peer message).
    let messaging: Messaging
    /// When each key (hex ID) was last asked of the phone: at most once a day (whatsmeow
    /// appstate.go requestMissingAppStateKeys).
    private let requested = Mutex<[String: UnixTime]>([:])

    /// A change of ours waiting to be sent, and who waits for the new version.
    private struct Job: Sendable {
        let action: AppStateAction
        let lastMessageTimestamp: Int64?
        let done: CheckedContinuation<UInt64, Error>
    }

    private struct Worker {
        var task: Task<Void, Never>?
        var pending = Set<AppStateCollection>()
        var jobs: [Job] = []
        var stopped = false
    }
    private let worker = Mutex(Worker())

    init(store: Store, link: ServerLink, media: MediaTransfers, environment: Environment, logger: Logger, publisher: EventPublisher,
         messaging: Messaging) {
        self.messaging = messaging
        self.store = store
        self.link = link
        self.media = media
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
    }

    /// `server_sync` notifications (acked on arrival by the session: the fetch that follows is
    /// what stores anything, and it starts from our stored version).
    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "server_sync")) { [self] node, _ in
            guard let sync = try? AppStateStanzas.ServerSync(parsing: node) else { return }
            let named = sync.collections.map(\.0)
            kick(named.isEmpty ? AppStateCollection.fetchOrder : named)
        }
    }

    // MARK: Keys

    /// The phone's `AppStateSyncKeyShare`: stored now (the caller receipts the message after), then
    /// every collection is fetched with the keys we now hold.
    func receiveKeyShare(_ share: WAWebProtobufsE2E_AppStateSyncKeyShare) throws(WauseError) {
        let records = share.keys.compactMap { key -> Store.AppStateKeyRecord? in
            guard key.hasKeyID, key.hasKeyData, !key.keyID.keyID.isEmpty, !key.keyData.keyData.isEmpty else { return nil }
            return Store.AppStateKeyRecord(id: Array(key.keyID.keyID), data: Array(key.keyData.keyData),
                                           fingerprint: key.keyData.hasFingerprint ? (try? key.keyData.fingerprint.serializedBytes()) : nil,
                                           timestamp: key.keyData.timestamp)
        }
        guard !records.isEmpty else {
            logger.warning("app state: a key share without usable keys; ignored")
            return
        }
        let fresh = try store.storeAppStateKeys(records, now: environment.now())
        logger.info("app state: \(records.count) key(s) from the phone, \(fresh.count) new")
        kick(AppStateCollection.fetchOrder)
    }

    // MARK: The worker

    /// Fetches `collections` soon (after login, a key share, a server_sync or a patch of ours).
    func kick(_ collections: [AppStateCollection] = AppStateCollection.fetchOrder) {
        worker.withLock { worker in
            guard !worker.stopped else { return }
            worker.pending.formUnion(collections)
            startIfIdle(&worker)
        }
    }

    private func startIfIdle(_ worker: inout Worker) {
        guard worker.task == nil else { return }
        worker.task = Task.detached { [self] in
            while true {
                let (next, jobs) = self.worker.withLock { worker -> ([AppStateCollection], [Job]) in
                    let taken = AppStateCollection.fetchOrder.filter { worker.pending.contains($0) }
                    let jobs = worker.jobs
                    worker.pending.removeAll()
                    worker.jobs.removeAll()
                    if (taken.isEmpty && jobs.isEmpty) || worker.stopped { worker.task = nil }
                    return worker.stopped ? ([], jobs) : (taken, jobs)
                }
                if next.isEmpty && jobs.isEmpty { return }
                if self.worker.withLock({ $0.stopped }) {
                    for job in jobs { job.done.resume(throwing: WauseError(.invalidRequest, "the client was closed")) }
                    return
                }
                await self.syncAll(next)
                for job in jobs {
                    do { job.done.resume(returning: try await self.perform(job)) } catch { job.done.resume(throwing: error) }
                }
            }
        }
    }

    // MARK: Sending our changes

    /// Sends one change of ours as a patch (whatsmeow appstate.go sendAppState; Baileys chats.ts
    /// appPatch) and applies it here; answers the collection's new version. Runs on the worker, so
    /// it never interleaves with a fetch of the same state.
    func send(_ action: AppStateAction, lastMessageTimestamp: Int64? = nil) async throws(WauseError) -> UInt64 {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let accepted = worker.withLock { worker -> Bool in
                    guard !worker.stopped else { return false }
                    worker.jobs.append(Job(action: action, lastMessageTimestamp: lastMessageTimestamp, done: continuation))
                    startIfIdle(&worker)
                    return true
                }
                if !accepted { continuation.resume(throwing: WauseError(.invalidRequest, "the client is closed")) }
            }
        } catch let error as WauseError {
            throw error
        } catch {
            throw WauseError(.internal, "\(error)")
        }
    }

    /// Brings the collection up to date (Baileys resyncs before each patch), builds the patch on
    /// it with the newest key, sends it; a 409 (someone moved the collection on) fetches and
    /// retries once, as whatsmeow does.
    private func perform(_ job: Job) async throws(WauseError) -> UInt64 {
        guard let key = try store.latestAppStateKey() else {
            throw WauseError(.notConnected, "the phone has not shared its app-state keys with this device yet (it does after linking); try again shortly")
        }
        let collection = job.action.collection
        for _ in 0..<2 {
            await sync(collection)
            let state = try store.appStateCollection(collection)
            let changes = job.action.changes(timestamp: environment.now().milliseconds, lastMessageTimestamp: job.lastMessageTimestamp)
            let built = try state.building(changes, collection: collection, keyID: key.id, keys: key.keys, iv: { self.environment.randomBytes(16) })
            guard let session = link.currentSession, session.loggedIn else {
                throw WauseError(.notConnected, "not connected: app-state changes are sent on the live connection")
            }
            let connection = session.connection
            let patch: [UInt8]
            do { patch = try built.patch.serializedBytes() } catch { throw WauseError(.internal, "cannot encode the patch: \(error)") }
            let request = AppStateStanzas.Request(collections: [.init(collection: collection, version: state.version, returnSnapshot: false,
                                                                      patches: [patch])])
            let reply = try await connection.query(request.node(id: connection.nextID()), timeout: ServerConnection.queryTimeout,
                                                   environment: environment)
            let answer = (try? AppStateStanzas.Response(parsing: reply))?.collections.first { $0.collection == collection }
            if let error = answer?.error {
                if error.code == 409 { continue }
                throw WauseError(.internal, "WhatsApp refused the \(collection.rawValue) patch: \(error.code) \(error.text)")
            }
            guard reply[attribute: "type"] == "result", answer != nil else {
                throw WauseError(.internal, "WhatsApp refused the \(collection.rawValue) patch: \(reply.child("error")?[attribute: "code"] ?? "no answer")")
            }
            _ = try store.saveAppState(collection, built.applied.state, applying: [job.action], now: environment.now())
            return built.applied.state.version
        }
        throw WauseError(.internal, "\(collection.rawValue) kept moving on while this device patched it; try again")
    }

    /// Called at login: nothing to fetch before the phone shared a key.
    func loggedIn() {
        guard (try? store.latestAppStateKey()) != nil else { return }
        kick()
    }

    /// Stops the worker (the client closes): a fetch under way is cancelled, and what it stored stays.
    func stop() {
        let running = worker.withLock { worker -> Task<Void, Never>? in
            worker.stopped = true
            return worker.task
        }
        running?.cancel()
    }

    private func syncAll(_ collections: [AppStateCollection]) async {
        for collection in collections {
            if Task.isCancelled { return }
            await sync(collection)
        }
    }

    // MARK: One collection

    /// Fetches one collection up to the server's version; on a mismatch, once more from a snapshot.
    func sync(_ collection: AppStateCollection) async {
        for attempt in 0..<2 {
            do {
                try await fetch(collection, fromScratch: attempt > 0)
                return
            } catch let error as AppStateError {
                if error.reason == .missingKey {
                    // whatsmeow requestMissingAppStateKeys: ask the phone for the keys; its share fetches this
                    // collection again. Nothing is advanced meanwhile.
                    let due = keysDue(error.missingKeyIDs)
                    announce(collection, reason: error.reason.rawValue, action: due.isEmpty ? "waiting_for_key_share" : "requested_keys_from_phone",
                             detail: error.message)
                    if !due.isEmpty { await requestKeys(due) }
                    return
                }
                if attempt == 0 {
                    announce(collection, reason: error.reason.rawValue, action: "full_resync", detail: error.message)
                    do { try store.resetAppStateCollection(collection) } catch {
                        logger.error("app state: cannot reset \(collection.rawValue): \(error.message)")
                        return
                    }
                    continue
                }
                // A fresh snapshot failed too: ask the phone for the collection in plain text
                // (AppStateRecovery; whatsmeow BuildAppStateRecoveryRequest). Left reset meanwhile,
                // so the next server_sync or login fetches it again if no answer comes.
                let asked = await requestRecovery(collection)
                announce(collection, reason: error.reason.rawValue, action: asked ? "requested_recovery_from_phone" : "retry_on_next_sync",
                         detail: error.message)
            } catch let error as WauseError {
                if Task.isCancelled || error.code == .notConnected { return }
                logger.warning("app state: \(collection.rawValue) fetch failed: \(error.message)")
                announce(collection, reason: "fetch_failed", action: "retry_on_next_sync", detail: error.message)
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("app state: \(collection.rawValue) fetch failed: \(error)")
                announce(collection, reason: "fetch_failed", action: "retry_on_next_sync", detail: "\(error)")
                return
            }
        }
    }

    /// `ProtocolMessage{APP_STATE_SYNC_KEY_REQUEST}` to our phone (whatsmeow send.go SendPeerMessage:
    /// `<message to=OWN category="peer" push_priority="high">` with one `<enc>`); `keysDue` keeps each
    /// key to one request a day. False when it could not be sent now.
    func keysDue(_ ids: [[UInt8]]) -> [[UInt8]] {
        let now = environment.now()
        return requested.withLock { asked -> [[UInt8]] in
            let fresh = ids.filter { id in asked[Hex.encode(id)].map { now - $0 >= .seconds(24 * 3600) } ?? true }
            for id in fresh { asked[Hex.encode(id)] = now }
            return fresh
        }
    }

    @discardableResult
    func requestKeys(_ due: [[UInt8]]) async -> Bool {
        guard !due.isEmpty else { return false }
        var message = WAWebProtobufsE2E_Message()
        message.protocolMessage.type = .appStateSyncKeyRequest
        message.protocolMessage.appStateSyncKeyRequest.keyIds = due.map { id in
            var keyID = WAWebProtobufsE2E_AppStateSyncKeyId()
            keyID.keyID = Data(id)
            return keyID
        }
        return await sendToPhone(message, what: "\(due.count) key(s)")
    }

    // MARK: Recovery

    /// Asks the phone for `collection` in plain text after a full resync failed (whatsmeow
    /// appstate.go BuildAppStateRecoveryRequest, sent with SendPeerMessage).
    func requestRecovery(_ collection: AppStateCollection) async -> Bool {
        await sendToPhone(AppStateRecovery.request(collection, timestamp: environment.now().seconds),
                          what: "a recovery of \(collection.rawValue)")
    }

    /// The phone's recovery answer (whatsmeow handleAppStateRecovery): applied when it is newer
    /// than what we hold, stored with what it changes before the caller receipts the message.
    /// An answer that cannot be read or applied is announced and leaves the collection as it was.
    func receiveRecovery(_ message: WAWebProtobufsE2E_Message) throws(WauseError) -> Bool {
        let found: (requestID: String, recovery: WAWebProtobufsSyncdSnapshotRecovery_SyncdSnapshotRecovery)?
        do { found = try AppStateRecovery.recovery(in: message) } catch {
            logger.warning("app state: an unreadable recovery answer: \(error)")
            return true
        }
        guard let (requestID, recovery) = found else { return false }
        guard let collection = AppStateCollection(rawValue: recovery.collectionName) else {
            logger.warning("app state: recovery \(requestID) names an unknown collection \(recovery.collectionName)")
            return true
        }
        let current = try store.appStateCollection(collection)
        guard current.version < recovery.version.version else {
            logger.info("app state: recovery of \(collection.rawValue) v\(recovery.version.version) ignored; we hold v\(current.version)")
            return true
        }
        let keys = try store.appStateKeys()
        let applied: AppStateCollectionState.Applied
        do { applied = try AppStateCollectionState.applying(recovery: recovery, collection: collection, keys: { keys[$0] }) } catch {
            announce(collection, reason: error.reason.rawValue, action: "retry_on_next_sync", detail: "the phone's recovery: \(error.message)")
            return true
        }
        let touched = try store.saveAppState(collection, applied.state, applying: applied.mutations.compactMap(AppStateAction.init),
                                             now: environment.now())
        for (action, chat) in touched { announce(action, chat: chat) }
        logger.info("app state: \(collection.rawValue) recovered from the phone at v\(applied.state.version)")
        // Anything newer than the phone's copy comes as patches from here.
        kick([collection])
        return true
    }

    /// A peer message to our phone (whatsmeow send.go SendPeerMessage: `<message to=OWN
    /// category="peer" push_priority="high">` with one `<enc>`), awaited until the server acks it.
    private func sendToPhone(_ message: WAWebProtobufsE2E_Message, what: String) async -> Bool {
        let now = environment.now()
        guard let session = link.currentSession, session.loggedIn,
            let account = try? store.linkedAccount(), let own = JID(LinkedAccount.userJID(account.jid))
        else { return false }
        let phone = JID(user: own.user, server: .whatsApp)
        do {
            let connection = session.connection
            let payload = try MessageFormat.encode(message)
            let missing = try messaging.devicesWithoutSession([phone])
            let bundles = try await PreKeyBundles.fetch(missing, connection: connection, environment: environment)
            guard let sealed = try messaging.encrypt(payload, for: [phone], bundles: bundles).first else { return false }
            var envelope = MessageEnvelope(id: MessageFormat.newMessageID(now: now, ownUser: own.user, random: environment.randomBytes),
                                           type: "text", to: phone, category: "peer",
                                           encrypted: [.init(type: sealed.type, ciphertext: sealed.ciphertext)])
            if sealed.type == "pkmsg", let identity = try store.advSignedIdentity() { envelope.deviceIdentity = identity }
            var node = envelope.node
            node.attributes["push_priority"] = "high"
            _ = try await connection.sendAwaitingAck(node, timeout: Outbox.ackTimeout, environment: environment)
            logger.info("app state: asked the phone for \(what)")
            return true
        } catch {
            logger.warning("app state: cannot ask the phone for \(what): \(error)")
            return false
        }
    }

    private func announce(_ collection: AppStateCollection, reason: String, action: String, detail: String) {
        logger.warning("app state: \(collection.rawValue): \(reason) → \(action) (\(detail))")
        publisher.publish(.appStateError, ["collection": .string(collection.rawValue), "reason": .string(reason), "action": .string(action),
                                           "message": .string(detail)])
    }

    /// The fetch loop (whatsmeow fetchAppStatePatches): one page per round, stored before the next.
    private func fetch(_ collection: AppStateCollection, fromScratch: Bool) async throws {
        var state = fromScratch ? AppStateCollectionState() : try store.appStateCollection(collection)
        var wantSnapshot = state.version == 0
        let keys = try store.appStateKeys()
        let lookup: AppStateCollectionState.KeyLookup = { keys[$0] }
        while true {
            try Task.checkCancellation()
            guard let session = link.currentSession, session.loggedIn else {
                throw WauseError(.notConnected, "app state is fetched on the live connection")
            }
            let connection = session.connection
            // Which version is asked for says whether stored versions are reused (a restart fetches on from them).
            logger.debug("app state: fetching \(collection.rawValue) \(wantSnapshot ? "as a snapshot" : "from version \(state.version)")")
            let request = AppStateStanzas.Request(collections: [
                .init(collection: collection, version: wantSnapshot ? nil : state.version, returnSnapshot: wantSnapshot),
            ])
            let reply = try await connection.query(request.node(id: connection.nextID()), timeout: ServerConnection.queryTimeout,
                                                   environment: environment)
            guard reply[attribute: "type"] == "result" else {
                throw WauseError(.internal, "the server refused the \(collection.rawValue) fetch: \(reply.child("error")?[attribute: "code"] ?? "?")")
            }
            let response: AppStateStanzas.Response
            do { response = try AppStateStanzas.Response(parsing: reply) } catch {
                throw WauseError(.internal, "the \(collection.rawValue) answer is unusable: \(error)")
            }
            guard let answer = response.collections.first(where: { $0.collection == collection }) else {
                throw WauseError(.internal, "the answer holds no \(collection.rawValue)")
            }
            if let error = answer.error { throw WauseError(.internal, "the server answered \(error.code) \(error.text) for \(collection.rawValue)") }
            var mutations: [AppStateMutation] = []
            if let reference = answer.snapshot {
                let what = "the \(collection.rawValue) snapshot"
                let bytes = try await download(reference, what: what)
                let snapshot: WAWebProtobufsServerSync_SyncdSnapshot
                do { snapshot = try WAWebProtobufsServerSync_SyncdSnapshot(serializedBytes: bytes) } catch {
                    throw AppStateError(.blobUnusable, "\(what) does not decode: \(error)")
                }
                let applied = try AppStateCollectionState.applying(snapshot: snapshot, collection: collection, keys: lookup)
                state = applied.state
                mutations += applied.mutations
            }
            for bytes in answer.patches {
                let patch: WAWebProtobufsServerSync_SyncdPatch
                do { patch = try WAWebProtobufsServerSync_SyncdPatch(serializedBytes: bytes) } catch {
                    throw AppStateError(.malformed, "a \(collection.rawValue) patch does not decode: \(error)")
                }
                var external: [WAWebProtobufsServerSync_SyncdMutation]?
                if patch.hasExternalMutations {
                    // A large patch: its mutations are a SyncdMutations blob on the media host, applied
                    // and MACed exactly as inline ones (whatsmeow appstate/decode.go decodePatches
                    // replaces the list; an empty one is an error there too).
                    let what = "the \(collection.rawValue) patch v\(patch.version.version)'s mutations"
                    let blob = try await download(try patch.externalMutations.serializedBytes(), what: what)
                    do { external = try WAWebProtobufsServerSync_SyncdMutations(serializedBytes: blob).mutations } catch {
                        throw AppStateError(.blobUnusable, "\(what) do not decode: \(error)")
                    }
                    if external?.isEmpty ?? true { throw AppStateError(.blobUnusable, "\(what): the blob holds no mutations") }
                }
                let applied = try state.applying(patch: patch, mutations: external, collection: collection, keys: lookup)
                state = applied.state
                mutations += applied.mutations
            }
            // Applied in order, so the last write of an index in the page is what stays (Baileys keeps one mutation per index).
            let actions = mutations.compactMap(AppStateAction.init)
            let touched = try store.saveAppState(collection, state, applying: actions, now: environment.now())
            for (action, chat) in touched { announce(action, chat: chat) }
            if !answer.hasMorePatches { return }
            wantSnapshot = false
        }
    }

    /// `chat.updated` for what another device (or the phone) changed.
    private func announce(_ action: AppStateAction, chat: String?) {
        var data: JSONObject = ["chat_id": JSONValue(chat), "source": "app_state"]
        switch action {
        case .archive(_, let archived): data["action"] = "archive"; data["archived"] = .bool(archived)
        case .pin(_, let pinned): data["action"] = "pin"; data["pinned"] = .bool(pinned)
        case .mute(_, let until):
            data["action"] = "mute"
            data["muted"] = .bool(until != nil)
            data["muted_until"] = until.map { .int($0 < 0 ? -1 : $0 / 1000) } ?? .null
        case .markRead(_, let read): data["action"] = read ? "mark_read" : "mark_unread"
        case .star(let ref, let starred): data["action"] = "star"; data["message_id"] = .string(ref.id); data["starred"] = .bool(starred)
        case .deleteMessageForMe(let ref, _): data["action"] = "delete_message"; data["message_id"] = .string(ref.id)
        case .clearChat: data["action"] = "clear_chat"
        case .deleteChat: data["action"] = "delete_chat"
        case .contact(let jid, let name, _): data["action"] = "contact"; data["contact"] = .string(jid); data["name"] = JSONValue(name)
        case .pushName(let name): data["action"] = "push_name"; data["name"] = .string(name)
        case .labelEdit(let label):
            data["action"] = "label_edit"; data["label_id"] = .string(label.id); data["label"] = .string(label.name)
            data["deleted"] = .bool(label.deleted)
        case .labelChat(let labelID, _, let labeled):
            data["action"] = "label_chat"; data["label_id"] = .string(labelID); data["label"] = JSONValue(try? store.labelName(labelID))
            data["labeled"] = .bool(labeled)
        case .labelMessage(let labelID, let ref, let labeled):
            data["action"] = "label_message"; data["label_id"] = .string(labelID); data["label"] = JSONValue(try? store.labelName(labelID))
            data["message_id"] = .string(ref.id); data["labeled"] = .bool(labeled)
        }
        publisher.publish(.chatUpdated, data)
    }

    /// An `ExternalBlobReference` downloaded through the media layer (`md-app-state`: the URL built
    /// from its direct path on the `media_conn` hosts only), read and removed. A blob the host
    /// served that fails its hashes, or that the host no longer has, is an `AppStateError` (the
    /// collection is refetched from a snapshot, then recovered from the phone); a host that cannot
    /// be reached while we are online is a fetch failure announced for the next sync.
    private func download(_ referenceBytes: [UInt8], what: String) async throws -> [UInt8] {
        let reference: WAWebProtobufsServerSync_ExternalBlobReference
        do { reference = try WAWebProtobufsServerSync_ExternalBlobReference(serializedBytes: referenceBytes) } catch {
            throw AppStateError(.malformed, "the reference to \(what) does not decode: \(error)")
        }
        guard !reference.directPath.isEmpty, !reference.mediaKey.isEmpty, !reference.fileEncSha256.isEmpty else {
            throw AppStateError(.malformed, "the reference to \(what) lacks its direct path, media key or hash")
        }
        let id = Hex.encode(Array(reference.fileEncSha256.prefix(16)))
        let stored = Store.StoredMedia(rowid: 0, messageID: "app-state-\(id)", chatJID: "app-state", fromMe: false, senderJID: nil,
                                       media: MediaMessage(type: "app_state", size: Int64(reference.fileSizeBytes),
                                                           sha256: Array(reference.fileSha256), encSha256: Array(reference.fileEncSha256),
                                                           mediaKey: Array(reference.mediaKey), directPath: reference.directPath),
                                       path: nil)
        let downloaded: MediaDownload.Downloaded
        do { downloaded = try await media.downloads.download(stored) } catch {
            if error.code == .notFound || error.details?["reason"] == "unusable" {
                throw AppStateError(.blobUnusable, "\(what): \(error.message)")
            }
            if error.code == .notConnected, link.currentSession?.loggedIn == true {
                throw WauseError(.internal, "\(what) could not be downloaded: \(error.message)")
            }
            throw error
        }
        defer { unlink(downloaded.path) }
        guard let bytes = AppStateSync.readFile(downloaded.path) else { throw WauseError(.internal, "cannot read the downloaded \(what)") }
        return bytes
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
        }
    }
}
