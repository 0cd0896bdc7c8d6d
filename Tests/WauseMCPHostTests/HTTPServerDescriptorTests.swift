#if canImport(Glibc)
import Glibc
#endif
import Testing
import WauseHTTP

/// A process holding many descriptors (many accounts, each with a socket and a database; the test
/// runner's parallel suites) still serves: libmicrohttpd must poll(2), since select(2) cannot watch a
/// descriptor at or past FD_SETSIZE and MHD then refuses to start ("cannot listen on 127.0.0.1:0").
struct HTTPServerDescriptorTests {
    @Test func servesWhenItsSocketIsPastFDSetSize() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 2048, limit.rlim_max >= 2048 {
            limit.rlim_cur = 2048
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var held: [Int32] = []
        defer { held.forEach { _ = close($0) } }
        // Take descriptors until the next one is past FD_SETSIZE (1024).
        while true {
            let fd = open("/dev/null", O_RDONLY)
            try #require(fd >= 0, "this machine allows too few open files to hold 1100 (errno \(errno))")
            held.append(fd)
            if fd > 1100 { break }
        }

        let server = HTTPServer(maximumBodySize: 1024) { _ in .text(200, "served") }
        try server.start(host: "127.0.0.1", port: 0)
        defer { server.stop() }

        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client > 1024)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let request = Array("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        #expect(send(client, request, request.count, 0) == request.count)
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(client, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.") && text.contains(" 200 ") && text.hasSuffix("served"), "\(text)")
    }
}
