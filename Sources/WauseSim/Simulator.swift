import WauseCrypto
import WauseHTTP
import WauseTransport
import WauseSQLite
import WauseSupport

/// A running simulator: its state, certificate root, WhatsApp endpoint, media host and admin API.
public final class Simulator: Sendable {
    public let settings: SimSettings
    public let rootKey: Curve25519KeyPair
    public let state: SimState
    public let connections: SimConnections
    let chatServer: WebSocketServer
    let admin: HTTPServer
    /// The HTTPS media host `media_conn` names (MediaServer.swift).
    let media: MediaServer
    /// The admin routes, callable without HTTP (tests drive them from a plain thread).
    let adminAPI: AdminAPI
    let phones: VirtualPhones
    let logger: Logger

    public var chatPort: Int { chatServer.port }
    public var adminPort: Int { Int(admin.port) }
    public var mediaPort: Int { media.port }
    /// `https://127.0.0.1:P`, the fourth start-up line.
    public var mediaURL: String { media.baseURL }

    private init(settings: SimSettings, rootKey: Curve25519KeyPair, state: SimState, connections: SimConnections,
                 chatServer: WebSocketServer, admin: HTTPServer, media: MediaServer, adminAPI: AdminAPI, phones: VirtualPhones,
                 logger: Logger) {
        self.settings = settings
        self.rootKey = rootKey
        self.state = state
        self.connections = connections
        self.chatServer = chatServer
        self.admin = admin
        self.media = media
        self.adminAPI = adminAPI
        self.phones = phones
        self.logger = logger
    }

    public static func start(settings: SimSettings, environment: Environment, logger: Logger) async throws -> Simulator {
        let directory = try DataDirectory.absolutePath(settings.dataDirectory)
        try DataDirectory.createDirectory(directory)
        let rootKey = try RootKey.load(path: settings.rootKeyFile ?? directory + "/root.key", create: settings.rootKeyFile == nil,
                                       random: environment.randomBytes)
        let state = try SimState(directory: directory, random: environment.randomBytes, clock: environment.now)
        let connections = SimConnections()
        // The media host first: media_conn answers (ChatEndpoint) and the phones' uploads name it.
        let mediaStore = try MediaStore(directory: directory, environment: environment)
        let certificates = try MediaCertificates.make(now: environment.now(), random: environment.randomBytes)
        try certificates.writeCA(to: directory + "/media-ca.pem")
        let media = try await MediaServer.start(port: settings.mediaPort, store: mediaStore, tls: try certificates.serverContext(),
                                                logger: logger)
        let links = PendingLinks()
        let router = MessageRouter(state: state, connections: connections, environment: environment, logger: logger,
                                   requirePrivacyToken: settings.requirePrivacyToken)
        let phones = VirtualPhones(state: state, router: router, media: media, environment: environment, logger: logger,
                                   appStateBlobBytes: settings.appStateBlobBytes)
        router.phones = phones
        let chatServer: WebSocketServer
        do {
            let chat = try ChatEndpoint(rootKey: rootKey, state: state, connections: connections, links: links, router: router,
                                        media: media, environment: environment, logger: logger)
            chatServer = try await WebSocketServer.start(host: "127.0.0.1", port: settings.port, path: "/ws/chat") { connection, _ in
                await chat.serve(connection)
            }
        } catch {
            await media.close()
            throw error
        }
        let api = AdminAPI(state: state, connections: connections,
                           linking: PhoneLinking(state: state, links: links, router: router, environment: environment, logger: logger),
                           phones: phones, media: mediaStore)
        // Room for a phone's media as base64 in `POST /accounts/{phone}/send` (AdminAPI+Media.swift).
        let admin = HTTPServer(maximumBodySize: AdminAPI.maximumBodySize, handler: api.handle)
        do {
            try admin.start(host: "127.0.0.1", port: UInt16(settings.adminPort))
        } catch {
            await chatServer.close()
            await media.close()
            throw error
        }
        let simulator = Simulator(settings: settings, rootKey: rootKey, state: state, connections: connections,
                                  chatServer: chatServer, admin: admin, media: media, adminAPI: api, phones: phones, logger: logger)
        // What the phones had not read when the sim last stopped.
        phones.kick()
        logger.info("serving ws://127.0.0.1:\(chatServer.port)/ws/chat, admin http://127.0.0.1:\(admin.port), media \(media.baseURL), state in \(directory)")
        return simulator
    }

    public func stop() async {
        for entry in connections.all { entry.disconnect(.shutdown) }
        await chatServer.close()
        admin.stop()
        await media.close()
        await phones.stop()
        state.close()
    }
}
