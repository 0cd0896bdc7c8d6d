import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Dials WebSockets the way WhatsApp Web does (whatsmeow socket/framesocket.go Connect): a plain HTTP/1.1
/// upgrade (TLS first for `wss://`) that sends `Host` and `Origin: https://web.whatsapp.com`
/// itself, and masks every frame it sends.
public struct WebSocketClient: Sendable {
    public static let whatsAppOrigin = "https://web.whatsapp.com"

    public var origin: String
    /// Certificates to trust for `wss://` instead of the system store (tests with a local CA).
    public var trustRootsFile: String?
    /// Bounds the TCP connect, the TLS handshake and the HTTP upgrade together: a host that
    /// accepts the connection and never answers the upgrade fails here instead of hanging.
    public var connectTimeout: TimeAmount
    public var eventLoopGroup: any EventLoopGroup

    public init(origin: String = WebSocketClient.whatsAppOrigin, trustRootsFile: String? = nil,
                connectTimeout: TimeAmount = .seconds(20),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.origin = origin
        self.trustRootsFile = trustRootsFile
        self.connectTimeout = connectTimeout
        self.eventLoopGroup = eventLoopGroup
    }

    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused
    }

    public func connect(to urlText: String) async throws -> WebSocketConnection {
        let url = try WebSocketURL(urlText)
        let tls: NIOSSLContext?
        if url.secure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let trustRootsFile { configuration.trustRoots = .file(trustRootsFile) }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: url.hostHeader)
        headers.add(name: "Origin", value: origin)
        let requestHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
        let serverName = url.host
        let timeout = connectTimeout
        let started = NIODeadline.now()

        let upgrade: EventLoopFuture<Upgrade>
        do {
            upgrade = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(timeout)
                .connect(host: url.host, port: url.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            // SNI only for names; an IP literal must not be sent as a server name.
                            let isName = !serverName.contains(":") && serverName.contains { $0.isLetter }
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: isName ? serverName : nil))
                        }
                        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(
                            maxFrameSize: WebSocketConnection.maximumMessageSize,
                            upgradePipelineHandler: { channel, _ in
                                channel.eventLoop.makeCompletedFuture {
                                    try WebSocketConnection.addAggregator(to: channel)
                                    return Upgrade.websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel))
                                }
                            })
                        let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                            upgradeRequestHead: requestHead, upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in
                                channel.eventLoop.makeCompletedFuture { Upgrade.refused }
                            })
                        let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                            configuration: .init(upgradeConfiguration: configuration))
                        // The bootstrap's connectTimeout covers the TCP connect alone; this one
                        // closes the channel when the upgrade has not completed in time either
                        // (the initializer runs before the connect, so both share one bound).
                        let watchdog = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
                        upgraded.whenComplete { _ in watchdog.cancel() }
                        return upgraded
                    }
                }
        } catch {
            throw WebSocketError.connectFailed("\(url.hostHeader): \(error)")
        }
        let outcome: Upgrade
        do {
            outcome = try await upgrade.get()
        } catch {
            if NIODeadline.now() >= started + timeout {
                throw WebSocketError.connectFailed("\(url.hostHeader): timed out after \(timeout.nanoseconds / 1_000_000) ms without an answer")
            }
            throw WebSocketError.connectFailed("\(url.hostHeader): \(error)")
        }
        switch outcome {
        case .websocket(let channel): return WebSocketConnection(asyncChannel: channel, masksOutbound: true)
        case .refused: throw WebSocketError.upgradeRefused
        }
    }
}
