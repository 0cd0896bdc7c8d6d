import Crypto
import WauseCrypto
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// A file taken in for sending: the engine's own copy under `<data_dir>/media/outgoing/` (0600),
/// so a later change or deletion of the original changes nothing, with what the message needs.
public struct MediaFile: Sendable, Equatable {
    /// The engine's copy.
    public var path: String
    public var size: Int64
    /// SHA-256 of the plaintext (the message's `fileSha256`).
    public var sha256: [UInt8]
    public var mediaType: MediaType
    public var format: SniffedFormat
    public var mimetype: String
    /// The name the recipient sees (documents): `file_name`, else the original's base name.
    public var fileName: String
    /// Images and stickers: their size and, for images, the JPEG thumbnail.
    public var image: ImageThumbnail?
    /// Ogg/Opus audio: the 64-sample waveform and the duration.
    public var voice: VoiceWaveform?
    /// Audio and video: whole seconds, where the file says (Ogg/Opus, MP4/MOV/3GP/M4A).
    public var seconds: Int?

    /// The fields of a message result's `media` object (issue 13 "Definitions") this file fills.
    public var json: JSONObject {
        var object: JSONObject = ["type": .string(mediaType.rawValue), "mimetype": .string(mimetype), "size": .int(size),
                                  "sha256": .string(Hex.encode(sha256))]
        if mediaType == .document { object["file_name"] = .string(fileName) }
        if let image { object["width"] = .int(Int64(image.width)); object["height"] = .int(Int64(image.height)) }
        if let seconds { object["seconds"] = .int(Int64(seconds)) }
        return object
    }
}

/// Takes in a file an agent names for `whatsapp_send_file`. The path is hostile: only a regular
/// file under one of the configured roots (`media_dirs`) is read, checked by its real path, opened
/// without following a last symlink and without blocking (a FIFO cannot hang the call), and checked
/// again on the open descriptor (same device and inode) so a file swapped between the check and the
/// open is refused. It is copied while it is hashed, within the size limit, then its content is
/// checked against the media type. Refusals are `forbidden_path` / `invalid_request` /
/// `media_too_large`; a path outside the roots gets one message whether or not something is there.
///
/// Blocking file I/O: callers on the cooperative pool run it on a thread of their own.
public struct MediaIntake: Sendable {
    public var roots: [String]
    /// `<data_dir>/media`: the copies go to its `outgoing/` folder.
    public var mediaDirectory: String
    public var maxBytes: Int64
    public var blockedExtensions: Set<String>
    var randomBytes: @Sendable (Int) -> [UInt8]
    /// Run between the real-path check and the lstat, and between the lstat and the open: tests
    /// swap files and directories there, to show the checks on the open descriptor refuse what the
    /// checks on the path did not see.
    var afterRealPath: (@Sendable (String) -> Void)?
    var afterPathCheck: (@Sendable (String) -> Void)?

    public init(config: ClientConfig, randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.init(roots: config.mediaDirectories, mediaDirectory: config.dataDirectory + "/media",
                  maxBytes: config.mediaMaxBytes, blockedExtensions: config.mediaBlockedExtensions, randomBytes: randomBytes)
    }

    public init(roots: [String], mediaDirectory: String, maxBytes: Int64 = ClientConfig.defaultMediaMaxBytes,
                blockedExtensions: Set<String> = MediaTypeCheck.defaultBlockedExtensions,
                randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.roots = roots
        self.mediaDirectory = mediaDirectory
        self.maxBytes = maxBytes
        self.blockedExtensions = blockedExtensions
        self.randomBytes = randomBytes
    }

    /// The size limit for a media type: `media_max_bytes`, and at most 16 MB for images.
    public func limit(for type: MediaType) -> Int64 {
        type == .image ? min(maxBytes, ClientConfig.imageMaxBytes) : maxBytes
    }

    /// Checks, copies and describes the file at `path` (absolute, or relative to the first root),
    /// sent as `mediaType` (nil: implied by the extension) under `fileName` (nil: its own name).
    public func take(path: String, mediaType declared: MediaType? = nil, fileName: String? = nil) throws(WauseError) -> MediaFile {
        let real = try confinedRealPath(path)
        let name = fileName ?? String(path.split(separator: "/").last ?? "file")
        if let fileName { try Self.validateFileName(fileName) }
        let type = declared ?? MediaTypeCheck.impliedType(extension: MediaTypeCheck.fileExtension(name))

        afterRealPath?(real)
        var checked = stat()
        guard lstat(real, &checked) == 0 else { throw refusal(path) }
        try Self.requireRegular(checked.st_mode, path: path)
        afterPathCheck?(real)

        // O_NOFOLLOW: a last component swapped for a symlink fails with ELOOP; O_NONBLOCK: a FIFO
        // swapped in opens at once instead of waiting for a writer (the fstat below refuses it).
        let source = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard source >= 0 else {
            let error = errno
            if error == ELOOP {
                throw WauseError(.forbiddenPath, "'\(path)' was replaced by a symbolic link while it was being checked; nothing was sent",
                                 details: ["file_path": .string(path)])
            }
            throw WauseError(.forbiddenPath, "'\(path)' could not be opened: \(String(cString: strerror(error)))",
                             details: ["file_path": .string(path)])
        }
        defer { close(source) }
        var opened = stat()
        guard fstat(source, &opened) == 0 else { throw .internal("fstat failed: \(String(cString: strerror(errno)))") }
        guard opened.st_dev == checked.st_dev, opened.st_ino == checked.st_ino else {
            throw WauseError(.forbiddenPath, "'\(path)' changed between its check and its opening (another file took its place); nothing was sent",
                             details: ["file_path": .string(path)])
        }
        try Self.requireRegular(opened.st_mode, path: path)
        // The lstat above followed the directories of the path as they were then: one swapped for
        // a symlink after realpath leads both the lstat and the open outside. What the descriptor
        // really is, the kernel says in /proc/self/fd; where /proc is missing, the dev/inode check
        // is all there is.
        if let opened = Self.descriptorPath(source), !Self.contains(roots.compactMap(Self.realPath), opened) {
            throw WauseError(.forbiddenPath, "'\(path)' led outside the media directories when it was opened (a directory on its way "
                             + "was replaced); nothing was sent", details: ["file_path": .string(path)])
        }

        let limit = limit(for: type)
        guard Int64(opened.st_size) <= limit else { throw tooLarge(path, size: Int64(opened.st_size), limit: limit, type: type) }
        guard opened.st_size > 0 else { throw .invalidRequest("'\(path)' is empty", details: ["file_path": .string(path)]) }

        // The head decides the type before anything is written; it is read from the descriptor
        // that was checked, so what is sniffed is what is copied.
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var filled = 0
        while filled < SniffedFormat.headLength {
            let count = try readSome(source, into: &buffer, from: filled)
            if count == 0 { break }
            filled += count
        }
        let format = SniffedFormat.sniff(buffer[0..<filled])
        let mimetype = try MediaTypeCheck.check(type: type, format: format, name: name, blockedExtensions: blockedExtensions)

        let copy = try copyOut(source, head: &buffer, headCount: filled, limit: limit, path: path, type: type,
                               extension: format.fileExtension ?? MediaTypeCheck.fileExtension(name).flatMap(Self.safeExtension) ?? "bin")
        var file = MediaFile(path: copy.path, size: copy.size, sha256: copy.sha256, mediaType: type, format: format,
                             mimetype: mimetype, fileName: name, image: nil, voice: nil, seconds: nil)
        do throws(WauseError) {
            switch type {
            case .image: file.image = try ImageThumbnail.make(path: copy.path, format: format)
            case .sticker: file.image = try ImageThumbnail.size(path: copy.path, format: format)
            case .voice, .audio, .video:
                // Voice is always Ogg/Opus; audio may be too (a waveform then) or MP3/AAC (no cheap length).
                if format == .oggOpus {
                    file.voice = try VoiceWaveform.analyze(path: copy.path)
                    file.seconds = file.voice?.seconds
                } else if [.mp4, .m4a, .quicktime, .threeGPP].contains(format) {
                    file.seconds = MP4Duration.seconds(path: copy.path)
                }
            case .document: break
            }
        } catch {
            unlink(copy.path)
            throw error
        }
        return file
    }

    // MARK: - The path

    /// The real path of `path` when it lies under a root's real path; otherwise the one refusal
    /// that says nothing about what is there.
    func confinedRealPath(_ path: String) throws(WauseError) -> String {
        guard !path.isEmpty else { throw .invalidRequest("file_path is empty", details: ["file_path": ""]) }
        guard !path.utf8.contains(0), path.utf8.count < Int(PATH_MAX) else {
            throw .invalidRequest("file_path is not a usable path (NUL byte, or longer than \(PATH_MAX) bytes)")
        }
        // `..` is refused as written, before anything is looked up: a root is what it says, and a
        // name that climbs out of one is a mistake or an attack either way.
        if path.split(separator: "/").contains("..") {
            throw WauseError(.forbiddenPath, "file_path must not contain '..' (it is read only inside media_dirs: \(roots.joined(separator: ", ")))",
                             details: ["file_path": .string(path)])
        }
        let realRoots = roots.compactMap(Self.realPath)
        let absolute = path.hasPrefix("/") ? path : (roots.first.map { $0 + "/" + path } ?? path)
        if let real = Self.realPath(absolute) {
            guard Self.contains(realRoots, real) else { throw refusal(path) }
            return real
        }
        // Nothing there. Only inside a root may the answer say so: the directory must resolve
        // inside a root, and the name must be absent rather than a symlink that leads elsewhere
        // (a dangling link answers "missing" for a target that is missing outside).
        let parent = String(absolute[..<(absolute.lastIndex(of: "/") ?? absolute.startIndex)])
        var entry = stat()
        if let realParent = Self.realPath(parent.isEmpty ? "/" : parent), Self.contains(realRoots, realParent),
           lstat(absolute, &entry) != 0, errno == ENOENT {
            throw .invalidRequest("no file '\(path)' in the media directories", details: ["file_path": .string(path)])
        }
        throw refusal(path)
    }

    /// The refusal for anything outside the roots, missing or not.
    func refusal(_ path: String) -> WauseError {
        WauseError(.forbiddenPath, "'\(path)' is not a file inside the media directories (media_dirs: \(roots.joined(separator: ", "))); "
                   + "only files under them can be sent", details: ["file_path": .string(path)])
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The path the kernel has for an open descriptor (Linux's /proc/self/fd/N), nil without /proc.
    static func descriptorPath(_ descriptor: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func contains(_ roots: [String], _ real: String) -> Bool {
        roots.contains { root in root == "/" || real == root || real.hasPrefix(root + "/") }
    }

    static func requireRegular(_ mode: mode_t, path: String) throws(WauseError) {
        let kind: String
        switch mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: kind = "a directory"
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFSOCK: kind = "a socket"
        case S_IFCHR, S_IFBLK: kind = "a device file"
        case S_IFLNK: kind = "a symbolic link"
        default: kind = "not a regular file"
        }
        throw WauseError(.forbiddenPath, "'\(path)' is \(kind); only regular files can be sent", details: ["file_path": .string(path)])
    }

    /// A recipient-visible name: one path component, printable, at most 255 bytes.
    static func validateFileName(_ name: String) throws(WauseError) {
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains("/"), name != ".", name != "..",
              !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidRequest("file_name must be one file name (no '/', no control characters, at most 255 bytes)",
                                  details: ["file_name": .string(name)])
        }
    }

    /// An extension safe in the copy's name (letters and digits, short), else none.
    static func safeExtension(_ ext: String) -> String? {
        ext.count <= 10 && ext.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) ? ext : nil
    }

    func tooLarge(_ path: String, size: Int64, limit: Int64, type: MediaType) -> WauseError {
        WauseError(.mediaTooLarge, "'\(path)' is larger than the \(limit)-byte limit for \(type.rawValue) files"
                   + (type == .image ? " (images: at most 16 MB)" : " (media_max_bytes)"),
                   details: ["file_path": .string(path), "limit": .int(limit), "size": .int(size)])
    }

    // MARK: - The copy

    func readSome(_ descriptor: Int32, into buffer: inout [UInt8], from offset: Int) throws(WauseError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw .internal("reading the file failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Streams the rest of `source` after the head into a new 0600 file, hashing on the way; the
    /// copy is written as `.part`, flushed to disk and only then renamed to its final name (persist
    /// before acknowledging; a crash mid-copy leaves no file that looks whole).
    func copyOut(_ source: Int32, head buffer: inout [UInt8], headCount: Int, limit: Int64, path: String, type: MediaType,
                 extension ext: String) throws(WauseError) -> (path: String, size: Int64, sha256: [UInt8]) {
        let folder = mediaDirectory + "/outgoing"
        for directory in [mediaDirectory, folder] where mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw .internal("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let target = folder + "/" + Hex.encode(randomBytes(16)) + "." + ext
        let partial = target + ".part"
        let output = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw .internal("cannot create \(partial): \(String(cString: strerror(errno)))") }
        var hasher = SHA256()
        var total: Int64 = 0
        var pending = headCount
        do throws(WauseError) {
            while pending > 0 {
                total += Int64(pending)
                // The file may have grown since fstat: the limit holds for what is read.
                guard total <= limit else { throw tooLarge(path, size: total, limit: limit, type: type) }
                let failure: Int32? = buffer.withUnsafeBytes { bytes in
                    let chunk = UnsafeRawBufferPointer(rebasing: bytes[0..<pending])
                    hasher.update(bufferPointer: chunk)
                    var written = 0
                    while written < chunk.count {
                        let count = write(output, chunk.baseAddress! + written, chunk.count - written)
                        if count < 0 {
                            if errno == EINTR { continue }
                            return errno
                        }
                        written += count
                    }
                    return nil
                }
                if let failure { throw .internal("writing the copy failed: \(String(cString: strerror(failure)))") }
                pending = try readSome(source, into: &buffer, from: 0)
            }
            guard fsync(output) == 0 else { throw .internal("flushing the copy failed: \(String(cString: strerror(errno)))") }
            guard rename(partial, target) == 0 else { throw .internal("naming the copy failed: \(String(cString: strerror(errno)))") }
            close(output)
        } catch {
            close(output)
            unlink(partial)
            throw error
        }
        return (target, total, Array(hasher.finalize()))
    }
}
