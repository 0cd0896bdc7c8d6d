import WauseCrypto
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The simulator's certificate root: a Curve25519 key whose public half clients take as
/// `server_root_key`, and which signs the intermediate certificate at startup (whatsmeow handshake.go verifyServerCert).
public enum RootKey {
    /// Reads the 64-hex-character private key from `path`, or, when `create` is set and the file
    /// does not exist, makes a new key and writes it there (0600).
    public static func load(path: String, create: Bool, random: (Int) -> [UInt8]) throws(WauseError) -> Curve25519KeyPair {
        if let text = try read(path) {
            let trimmed = text.filter { !$0.isWhitespace }
            guard let bytes = Hex.decode(trimmed), bytes.count == 32, let pair = try? Curve25519KeyPair(privateKey: bytes) else {
                throw .invalidRequest("\(path) must hold a 32-byte private key as 64 hex characters")
            }
            return pair
        }
        guard create else { throw .invalidRequest("root key file \(path) does not exist") }
        let pair = Curve25519KeyPair.generate(random: random)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internal("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = Array((Hex.encode(pair.privateKey) + "\n").utf8)
        guard write(fd, line, line.count) == line.count else { throw .internal("cannot write \(path)") }
        return pair
    }

    private static func read(_ path: String) throws(WauseError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .internal("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count < 4096 else { throw .invalidRequest("\(path) is too large to be a key file") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
