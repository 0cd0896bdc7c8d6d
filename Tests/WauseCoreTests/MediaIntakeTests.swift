import Testing
@testable import WauseCore
import WauseCrypto
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `MediaIntake` against real files, symlinks, FIFOs and directories in a temporary tree: every
/// refusal of a hostile `file_path` with its code, and accepted files copied with their SHA-256.
@Suite struct MediaIntakeTests {
    let directory = TemporaryDirectory(prefix: "wause-media")
    var root: String { directory.file("outbox") }
    var outside: String { directory.file("outside") }
    var media: String { directory.file("data/media") }

    init() {
        mkdir(directory.file("outbox"), 0o700)
        mkdir(directory.file("outside"), 0o700)
        mkdir(directory.file("data"), 0o700)
    }

    func intake(maxBytes: Int64 = ClientConfig.defaultMediaMaxBytes) -> MediaIntake {
        MediaIntake(roots: [root], mediaDirectory: media, maxBytes: maxBytes, randomBytes: SystemRandom.bytes)
    }

    func write(_ path: String, _ bytes: [UInt8]) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0, "cannot create \(path)")
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }

    func read(_ path: String) -> [UInt8] { (try? ImageThumbnail.readWhole(path)) ?? [] }

    func refusal(_ path: String, type: MediaType? = nil, name: String? = nil, with intake: MediaIntake? = nil) -> WauseError? {
        do {
            _ = try (intake ?? self.intake()).take(path: path, mediaType: type, fileName: name)
            return nil
        } catch { return error }
    }

    /// The copies made so far: a refusal must leave none behind.
    func copies() -> [String] {
        guard let folder = opendir(media + "/outgoing") else { return [] }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    @Test func anAcceptedFileIsCopiedPrivatelyWithItsHash() throws {
        let text = Array("minutes of the meeting\n".utf8) + (0..<5000).map { _ in UInt8(ascii: "a") + UInt8.random(in: 0..<26) }
        write(root + "/notes.txt", text)
        let file = try intake().take(path: root + "/notes.txt")
        #expect(file.mediaType == .document)
        #expect(file.mimetype == "text/plain")
        #expect(file.fileName == "notes.txt")
        #expect(file.size == Int64(text.count))
        #expect(file.sha256 == Hash.sha256(text))
        #expect(file.path.hasPrefix(media + "/outgoing/") && file.path.hasSuffix(".txt"))
        #expect(copies() == [String(file.path.split(separator: "/").last!)])
        #expect(read(file.path) == text)
        var info = stat()
        #expect(stat(file.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        // The copy is taken at call time: changing the original afterwards changes nothing.
        write(root + "/notes.txt", Array("something else".utf8))
        #expect(read(file.path) == text)
        // A second intake of the same file is a second copy, never the first overwritten.
        let again = try intake().take(path: root + "/notes.txt", fileName: "renamed.txt")
        #expect(again.path != file.path)
        #expect(again.fileName == "renamed.txt")
    }

    @Test func aRelativePathIsReadInTheFirstRoot() throws {
        write(root + "/hello.txt", Array("hello".utf8))
        let file = try intake().take(path: "hello.txt")
        #expect(file.sha256 == Hash.sha256(Array("hello".utf8)))
    }

    @Test func traversalIsRefusedAsWritten() {
        write(outside + "/secret.txt", Array("secret".utf8))
        for path in [root + "/../outside/secret.txt", "../outside/secret.txt", root + "/sub/../../outside/secret.txt"] {
            let error = refusal(path)
            #expect(error?.code == .forbiddenPath, "\(path)")
            #expect(error?.message.contains("'..'") == true)
        }
        #expect(copies().isEmpty)
    }

    @Test func outsideTheRootsMissingAndPresentFilesGetTheSameAnswer() {
        write(outside + "/secret.txt", Array("secret".utf8))
        let present = refusal(outside + "/secret.txt")
        let missing = refusal(outside + "/no-such-file.txt")
        #expect(present?.code == .forbiddenPath)
        #expect(missing?.code == .forbiddenPath)
        #expect(present?.message.replacingOccurrences("secret.txt", "X") == missing?.message.replacingOccurrences("no-such-file.txt", "X"))
        #expect(refusal("/etc/passwd")?.code == .forbiddenPath)
        #expect(copies().isEmpty)
    }

    @Test func aMissingFileInsideARootIsSaidToBeMissing() {
        let error = refusal(root + "/absent.pdf")
        #expect(error?.code == .invalidRequest)
        #expect(error?.message.contains("no file") == true)
    }

    @Test func symlinksMayNotLeaveARoot() throws {
        write(outside + "/secret.txt", Array("secret".utf8))
        symlink(outside + "/secret.txt", root + "/link.txt")
        symlink(outside + "/absent.txt", root + "/dangling.txt")
        symlink(outside, root + "/dirlink")
        let escaping = refusal(root + "/link.txt")
        let dangling = refusal(root + "/dangling.txt")
        #expect(escaping?.code == .forbiddenPath)
        // A dangling link out of the root says no more than one whose target exists.
        #expect(dangling?.code == .forbiddenPath)
        #expect(escaping?.message.replacingOccurrences("link.txt", "X") == dangling?.message.replacingOccurrences("dangling.txt", "X"))
        #expect(refusal(root + "/dirlink/secret.txt")?.code == .forbiddenPath)
        #expect(refusal(root + "/dirlink/absent.txt")?.code == .forbiddenPath)
        // A link that stays inside the roots is followed.
        write(root + "/real.txt", Array("inside".utf8))
        symlink(root + "/real.txt", root + "/alias.txt")
        #expect(try intake().take(path: root + "/alias.txt").sha256 == Hash.sha256(Array("inside".utf8)))
        #expect(copies().count == 1)
    }

    @Test func aFileSwappedForASymlinkAfterTheCheckIsRefused() {
        write(outside + "/secret.txt", Array("secret".utf8))
        write(root + "/photo.txt", Array("harmless".utf8))
        var intake = intake()
        intake.afterPathCheck = { real in
            unlink(real)
            symlink(self.outside + "/secret.txt", real)
        }
        let error = refusal(root + "/photo.txt", with: intake)
        #expect(error?.code == .forbiddenPath)
        #expect(error?.message.contains("symbolic link") == true)
        #expect(copies().isEmpty)
    }

    @Test func aFileReplacedByAnotherAfterTheCheckIsRefusedByTheDescriptorCheck() {
        write(root + "/report.txt", Array("checked".utf8))
        write(root + "/other.txt", Array("swapped in".utf8))
        var intake = intake()
        intake.afterPathCheck = { real in rename(self.root + "/other.txt", real) }
        let error = refusal(root + "/report.txt", with: intake)
        #expect(error?.code == .forbiddenPath)
        #expect(error?.message.contains("changed between") == true)
        #expect(copies().isEmpty)
    }

    @Test func aDirectorySwappedForASymlinkOutAfterTheCheckIsRefused() {
        mkdir(root + "/album", 0o700)
        write(root + "/album/photo.txt", Array("inside".utf8))
        write(outside + "/photo.txt", Array("secret".utf8))
        var intake = intake()
        // After realpath said root/album/photo.txt, album becomes a link out of the root: the
        // lstat and the open both follow it to the same outside file, so only the descriptor's
        // own path (/proc/self/fd) shows where it went.
        intake.afterRealPath = { _ in
            rename(self.root + "/album", self.root + "/album-old")
            symlink(self.outside, self.root + "/album")
        }
        let error = refusal(root + "/album/photo.txt", with: intake)
        #expect(error?.code == .forbiddenPath)
        #expect(error?.message.contains("led outside") == true)
        #expect(copies().isEmpty)
    }

    @Test func theResultDescribesTheFile() throws {
        write(root + "/notes.txt", Array("hello".utf8))
        let file = try intake().take(path: root + "/notes.txt")
        #expect(file.json == ["type": "document", "mimetype": "text/plain", "size": 5, "file_name": "notes.txt",
                              "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"])
    }

    @Test func aFIFOIsRefusedWithoutBlocking() {
        #expect(mkfifo(root + "/pipe", 0o600) == 0)
        let error = refusal(root + "/pipe.txt".replacingOccurrences(".txt", ""))
        #expect(error?.code == .forbiddenPath)
        #expect(error?.message.contains("FIFO") == true)
        // Swapped in after the check: the non-blocking open returns at once (no writer needed)
        // and the descriptor check refuses it.
        write(root + "/voice.txt", Array("checked".utf8))
        var intake = intake()
        intake.afterPathCheck = { real in
            unlink(real)
            mkfifo(real, 0o600)
        }
        let swapped = refusal(root + "/voice.txt", with: intake)
        #expect(swapped?.code == .forbiddenPath)
        #expect(copies().isEmpty)
    }

    @Test func directoriesAndDevicesAreRefused() {
        mkdir(root + "/folder", 0o700)
        let folder = refusal(root + "/folder")
        #expect(folder?.code == .forbiddenPath)
        #expect(folder?.message.contains("directory") == true)
        let device = MediaIntake(roots: ["/dev"], mediaDirectory: media, randomBytes: SystemRandom.bytes)
        let null = refusal("/dev/null", with: device)
        #expect(null?.code == .forbiddenPath)
        #expect(null?.message.contains("device") == true)
    }

    @Test func aProgramNamedPDFIsRefused() {
        var program: [UInt8] = Array("MZ".utf8) + [0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00]
        program += [UInt8](repeating: 0, count: 600)
        write(root + "/invoice.pdf", program)
        let error = refusal(root + "/invoice.pdf")
        #expect(error?.code == .forbiddenPath)
        #expect(error?.message.contains("executable") == true)
        #expect(error?.details?["detected"] == "executable")
        #expect(copies().isEmpty)
    }

    @Test func blockedExtensionsAreRefusedForDocuments() {
        write(root + "/script.txt", Array("echo hi\n".utf8))
        for name in ["setup.exe", "run.BAT", "x.js", "tool.exe.", "photo.jpg.scr"] {
            let error = refusal(root + "/script.txt", name: name)
            #expect(error?.code == .forbiddenPath, "\(name)")
            #expect(error?.message.contains("blocked extension") == true, "\(name)")
        }
        // The list is configurable: with it emptied, a .js text file goes.
        var permissive = intake()
        permissive.blockedExtensions = []
        #expect((try? permissive.take(path: root + "/script.txt", fileName: "x.js")) != nil)
    }

    @Test func contentMustMatchTheTypeAndTheName() {
        write(root + "/doc.pdf", Array("%PDF-1.7\n%âãÏÓ\n1 0 obj\n".utf8) + [UInt8](repeating: 0x20, count: 100))
        let asImage = refusal(root + "/doc.pdf", type: .image)
        #expect(asImage?.code == .invalidRequest)
        #expect(asImage?.message.contains("a PDF document") == true)
        let renamed = refusal(root + "/doc.pdf", name: "holiday.jpg", with: nil)
        // Implied type from file_name's .jpg is image: the content is a PDF.
        #expect(renamed?.code == .invalidRequest)
        #expect(refusal(root + "/doc.pdf", type: .document, name: "sheet.xlsx")?.code == .invalidRequest)
        #expect(refusal(root + "/doc.pdf", type: .voice)?.code == .invalidRequest)
        #expect((try? intake().take(path: root + "/doc.pdf"))?.mimetype == "application/pdf")
    }

    @Test func oversizeFilesAreRefusedAndLeaveNoCopy() {
        write(root + "/big.txt", [UInt8](repeating: UInt8(ascii: "x"), count: 1001))
        let error = refusal(root + "/big.txt", with: intake(maxBytes: 1000))
        #expect(error?.code == .mediaTooLarge)
        #expect(error?.details?["limit"] == .int(1000))
        #expect((try? intake(maxBytes: 1001).take(path: root + "/big.txt"))?.size == 1001)
        // Images stop at 16 MB whatever media_max_bytes says.
        #expect(intake().limit(for: .image) == 16 << 20)
        #expect(intake().limit(for: .video) == 64 << 20)
        #expect(intake(maxBytes: 1 << 30).limit(for: .document) == 1 << 30)
        #expect(copies().count == 1)
    }

    @Test func badPathsAndNamesAreInvalid() {
        #expect(refusal("")?.code == .invalidRequest)
        #expect(refusal(root + "/a\u{0}b")?.code == .invalidRequest)
        write(root + "/ok.txt", Array("ok".utf8))
        #expect(refusal(root + "/ok.txt", name: "a/b.txt")?.code == .invalidRequest)
        #expect(refusal(root + "/ok.txt", name: "bad\nname.txt")?.code == .invalidRequest)
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
