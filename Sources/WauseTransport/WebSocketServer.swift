import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// Accepts WebSockets on one path (wause-sim's `/ws/chat`). Anything else — another path, a plain
/// HTTP request — is answered 404 and closed. Each accepted connection is handed to `handler`
/// together with the request's headers; the server does not wait for handlers.
public final class WebSocketServer: Sendable {
    public typealias Handler = @Sendable (WebSocketConnection, HTTPHeaders) async -> Void

    public let port: Int
    private let channel: Channel

    private enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, HTTPHeaders)
        case refused(Channel)
    }

    private init(port: Int, channel: Channel) {
        self.port = port
        self.channel = channel
    }

    /// - Parameter tls: serve `wss://` with this context (nil: plain `ws://`).
    public static func start(host: String, port: Int, path: String, tls: NIOSSLContext? = nil,
                             eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             handler: @escaping Handler) async throws -> WebSocketServer {
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                        maxFrameSize: WebSocketConnection.maximumMessageSize,
                        shouldUpgrade: { channel, head in
                            let requestPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                            return channel.eventLoop.makeSucceededFuture(requestPath == path ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                try WebSocketConnection.addAggregator(to: channel)
                                return Upgrade.websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel), head.headers)
                            }
                        })
                    let configuration = NIOTypedHTTPServerUpgradeConfiguration<Upgrade>(
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture { Upgrade.refused(channel) }
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        let boundPort = server.channel.localAddress?.port ?? port
        let listener = WebSocketServer(port: boundPort, channel: server.channel)
        Task {
            try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { upgrades in
                    for try await upgrade in upgrades {
                        group.addTask {
                            switch try? await upgrade.get() {
                            case .websocket(let channel, let headers):
                                await handler(WebSocketConnection(asyncChannel: channel, masksOutbound: false), headers)
                            case .refused(let channel):
                                WebSocketServer.refuse(channel)
                            case nil:
                                break
                            }
                        }
                    }
                }
            }
        }
        return listener
    }

    /// 404 for anything that is not a WebSocket upgrade of our path.
    private static func refuse(_ channel: Channel) {
        let head = HTTPResponseHead(version: .http1_1, status: .notFound,
                                    headers: ["Content-Length": "0", "Connection": "close"])
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Stops accepting; connections already open are not affected.
    public func close() async {
        try? await channel.close()
    }
}
