import AsyncHTTPClient
import NIOCore
import NIOSSL
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The engine's outbound HTTPS for media (issue 13: swift-server/async-http-client): a POST of a
/// file streamed from disk and a GET streamed into a sink, piece by piece, so neither side holds
/// a whole file in memory. Injected into the media features as a value (tests may hand in their
/// own); `live(config:)` trusts the system roots plus `media_ca_file` when it is set (NIOSSL's
/// `additionalTrustRoots`), so the TLS path to wause-sim's media host is the real one.
struct MediaHTTP: Sendable {
    /// POSTs the file at `path` (`length` bytes) to `url`; answers the status and the (small) body.
    var upload: @Sendable (_ url: String, _ path: String, _ length: Int64) async throws -> (status: Int, body: [UInt8])
    /// GETs `url`; on 200 hands every piece of the body to `sink` and answers 200, otherwise the
    /// status (the body is dropped).
    var download: @Sendable (_ url: String, _ sink: @Sendable ([UInt8]) throws -> Void) async throws -> Int
    /// DELETEs `url`; answers the status (the body is dropped).
    var delete: @Sendable (_ url: String) async throws -> Int

    /// Largest answer body kept from an upload (a JSON object of a few hundred bytes).
    static let uploadAnswerLimit = 64 * 1024
    /// Upload pieces (64 KB each) written but not yet on the socket.
    static let uploadWindow = 4

    static func live(config: ClientConfig) -> MediaHTTP {
        let caFile = config.mediaCAFile
        @Sendable func client() -> HTTPClient {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.timeout = .init(connect: .seconds(20), read: .seconds(60))
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        }
        return MediaHTTP(
            upload: { url, path, length in
                // One client per transfer, shut down after it: nothing outlives the call (an
                // HTTPClient must be shut down before it is released).
                let http = client()
                do {
                    var request = try HTTPClient.Request(url: url, method: .POST)
                    request.headers.add(name: "Content-Type", value: "application/octet-stream")
                    request.headers.add(name: "Origin", value: "https://web.whatsapp.com")
                    // The body through StreamWriter, each write's future awaited with at most
                    // `uploadWindow` pieces in flight. The async API's `.stream(AsyncSequence)`
                    // only pauses once the event loop has seen the channel go unwritable, and a
                    // file read faster than TLS encrypts queued most of a 60 MB file in memory
                    // first (measured: tests/sim/test_engine_media_memory_e2e.py).
                    let loop = http.eventLoopGroup.next()
                    request.body = .stream(contentLength: length) { writer in
                        let promise = loop.makePromise(of: Void.self)
                        promise.completeWithTask {
                            let chunks = FileChunks(path: path).makeAsyncIterator()
                            var inFlight: [EventLoopFuture<Void>] = []
                            while let piece = try await chunks.next() {
                                inFlight.append(writer.write(.byteBuffer(piece)))
                                if inFlight.count >= uploadWindow { try await inFlight.removeFirst().get() }
                            }
                            for future in inFlight { try await future.get() }
                        }
                        return promise.futureResult
                    }
                    let answer = ResponseAccumulator(request: request, maxBodySize: uploadAnswerLimit)
                    let response = try await http.execute(request: request, delegate: answer, eventLoop: .delegate(on: loop),
                                                          deadline: .now() + .seconds(600)).futureResult.get()
                    try await http.shutdown()
                    return (Int(response.status.code), response.body.map { Array($0.readableBytesView) } ?? [])
                } catch {
                    try? await http.shutdown()
                    throw error
                }
            },
            download: { url, sink in
                let http = client()
                do {
                    var request = HTTPClientRequest(url: url)
                    request.headers.add(name: "Origin", value: "https://web.whatsapp.com")
                    let response = try await http.execute(request, timeout: .seconds(600))
                    let status = Int(response.status.code)
                    if status == 200 {
                        for try await piece in response.body { try sink(Array(piece.readableBytesView)) }
                    } else {
                        _ = try? await response.body.collect(upTo: uploadAnswerLimit)
                    }
                    try await http.shutdown()
                    return status
                } catch {
                    try? await http.shutdown()
                    throw error
                }
            },
            delete: { url in
                let http = client()
                do {
                    var request = HTTPClientRequest(url: url)
                    request.method = .DELETE
                    // whatsmeow upload.go DeleteMedia sends Origin and Referer.
                    request.headers.add(name: "Origin", value: "https://web.whatsapp.com")
                    request.headers.add(name: "Referer", value: "https://web.whatsapp.com/")
                    let response = try await http.execute(request, timeout: .seconds(60))
                    _ = try? await response.body.collect(upTo: uploadAnswerLimit)
                    try await http.shutdown()
                    return Int(response.status.code)
                } catch {
                    try? await http.shutdown()
                    throw error
                }
            })
    }
}

/// A file read in 64 KB pieces, as an upload's body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    static let pieceSize = 1 << 16

    final class Iterator: AsyncIteratorProtocol {
        private var descriptor: Int32 = -1
        private let path: String
        private let allocator = ByteBufferAllocator()
        init(path: String) { self.path = path }
        deinit { if descriptor >= 0 { close(descriptor) } }

        func next() async throws -> ByteBuffer? {
            if descriptor < 0 {
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw WauseError.internal("cannot open \(path) for upload: \(String(cString: strerror(errno)))") }
            }
            // Read straight into the buffer that goes out: no second copy per piece.
            var buffer = allocator.buffer(capacity: FileChunks.pieceSize)
            let descriptor = self.descriptor
            var failure: Int32 = 0
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: FileChunks.pieceSize) { space in
                var result: Int
                repeat { result = read(descriptor, space.baseAddress, FileChunks.pieceSize) } while result < 0 && errno == EINTR
                if result < 0 { failure = errno }
                return result < 0 ? 0 : result
            }
            guard failure == 0 else { throw WauseError.internal("reading \(path) failed: \(String(cString: strerror(failure)))") }
            return count == 0 ? nil : buffer
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(path: path) }
}
