import CPNG
import CWebP
import Testing
@testable import WauseCore
import WauseCrypto
import WauseSupport
import WauseTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Type sniffing, thumbnails and voice waveforms on real files: images made by independent
/// encoders (libjpeg-turbo through the engine's encoder, libpng's and libwebp's own), and a
/// committed Ogg/Opus fixture (Fixtures/README.md says how it was made).
@Suite struct MediaDecodingTests {
    let directory = TemporaryDirectory(prefix: "wause-media")

    func intake() -> MediaIntake {
        MediaIntake(roots: [directory.path], mediaDirectory: directory.file("media"), randomBytes: SystemRandom.bytes)
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = directory.file(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        return path
    }

    /// Left half red, right half blue.
    static func halves(width: Int, height: Int, channels: Int = 3, alpha: UInt8 = 255) -> [UInt8] {
        var pixels: [UInt8] = []
        for _ in 0..<height {
            for x in 0..<width {
                pixels += x < width / 2 ? [220, 20, 20] : [20, 20, 220]
                if channels == 4 { pixels.append(alpha) }
            }
        }
        return pixels
    }

    func pixel(_ rgb: [UInt8], width: Int, x: Int, y: Int) -> (Int, Int, Int) {
        let index = (y * width + x) * 3
        return (Int(rgb[index]), Int(rgb[index + 1]), Int(rgb[index + 2]))
    }

    @Test(arguments: [
        ([0xFF, 0xD8, 0xFF, 0xE0], SniffedFormat.jpeg),
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], .png),
        (Array("GIF89a".utf8), .gif),
        (Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8), .webp),
        (Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8), .wav),
        ([0, 0, 0, 0x20] + Array("ftypisom".utf8), .mp4),
        ([0, 0, 0, 0x14] + Array("ftypqt  ".utf8), .quicktime),
        ([0, 0, 0, 0x14] + Array("ftyp3gp4".utf8), .threeGPP),
        ([0, 0, 0, 0x20] + Array("ftypM4A ".utf8), .m4a),
        (Array("ID3".utf8) + [4, 0], .mp3),
        ([0xFF, 0xFB, 0x90, 0x00], .mp3),
        ([0xFF, 0xF1, 0x50, 0x80], .aac),
        (Array("%PDF-1.4".utf8), .pdf),
        ([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00], .zip),
        ([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], .ole),
        (Array("MZ".utf8) + [0x90, 0], .executable),
        ([0x7F, 0x45, 0x4C, 0x46, 2, 1], .executable),
        (Array("héllo, wörld\n".utf8), .text),
        ([0x00, 0x01, 0x02, 0x03], .unknown),
    ] as [([UInt8], SniffedFormat)])
    func sniffing(head: [UInt8], format: SniffedFormat) {
        #expect(SniffedFormat.sniff(head) == format)
    }

    @Test func oggIsOpusOnlyWhenItsFirstPacketSaysSo() throws {
        let opus = try ImageThumbnail.readWhole(Self.fixture("silence-then-tone.opus"))
        #expect(SniffedFormat.sniff(opus) == .oggOpus)
        var vorbis = opus
        vorbis.replaceSubrange(28..<36, with: Array("\u{1}vorbis\u{0}".utf8))
        #expect(SniffedFormat.sniff(vorbis) == .ogg)
    }

    @Test func aJPEGGetsItsSizeAndAThumbnail() throws {
        let jpeg = try ImageThumbnail.encodeJPEG(rgb: Self.halves(width: 640, height: 480), width: 640, height: 480, quality: 90)
        let file = try intake().take(path: write("photo.jpg", jpeg))
        #expect(file.mediaType == .image)
        #expect(file.mimetype == "image/jpeg")
        let image = try #require(file.image)
        #expect((image.width, image.height) == (640, 480))
        #expect((image.thumbnailWidth, image.thumbnailHeight) == (72, 54))
        // The thumbnail is a JPEG of that size that still shows red on the left, blue on the right.
        #expect(SniffedFormat.sniff(image.jpeg) == .jpeg)
        let decoded = try ImageThumbnail.decode(image.jpeg, format: .jpeg, atLeast: 72)
        #expect((decoded.width, decoded.height) == (72, 54))
        let left = pixel(decoded.rgb, width: 72, x: 10, y: 27), right = pixel(decoded.rgb, width: 72, x: 60, y: 27)
        #expect(left.0 > 150 && left.2 < 80, "\(left)")
        #expect(right.2 > 150 && right.0 < 80, "\(right)")
        #expect(image.jpeg.count < 4096)
    }

    @Test func aTransparentPNGIsThumbnailedOverWhite() throws {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = 300
        image.height = 100
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        var rgba = Self.halves(width: 300, height: 100, channels: 4)
        for y in 0..<100 { for x in 0..<300 where x < 150 && y < 50 { rgba[(y * 300 + x) * 4 + 3] = 0 } }  // top-left transparent
        var size = 0
        #expect(png_image_write_to_memory(&image, nil, &size, 0, rgba, 0, nil) != 0)
        var png = [UInt8](repeating: 0, count: size)
        #expect(png_image_write_to_memory(&image, &png, &size, 0, rgba, 0, nil) != 0)
        png_image_free(&image)

        let file = try intake().take(path: write("diagram.png", Array(png.prefix(size))), mediaType: .image)
        #expect(file.mimetype == "image/png")
        let thumbnail = try #require(file.image)
        #expect((thumbnail.width, thumbnail.height) == (300, 100))
        #expect((thumbnail.thumbnailWidth, thumbnail.thumbnailHeight) == (72, 24))
        let decoded = try ImageThumbnail.decode(thumbnail.jpeg, format: .jpeg, atLeast: 72)
        let transparent = pixel(decoded.rgb, width: 72, x: 8, y: 4), red = pixel(decoded.rgb, width: 72, x: 8, y: 20)
        #expect(transparent.0 > 200 && transparent.1 > 200 && transparent.2 > 200, "\(transparent)")
        #expect(red.0 > 150 && red.1 < 80, "\(red)")
    }

    @Test func aWebPStickerGetsItsSize() throws {
        let rgb = Self.halves(width: 512, height: 256)
        var output: UnsafeMutablePointer<UInt8>? = nil
        let size = WebPEncodeRGB(rgb, 512, 256, 512 * 3, 75, &output)
        #expect(size > 0)
        let webp = Array(UnsafeBufferPointer(start: output, count: size))
        WebPFree(output)
        let file = try intake().take(path: write("sticker.webp", webp))
        #expect(file.mediaType == .sticker)
        #expect(file.mimetype == "image/webp")
        #expect(file.image.map { ($0.width, $0.height) } ?? (0, 0) == (512, 256))
        // Sent as an image instead, it gets a thumbnail decoded by libwebp.
        let asImage = try intake().take(path: directory.file("sticker.webp"), mediaType: .image)
        #expect(asImage.image?.thumbnailWidth == 72)
    }

    @Test func anImageTooLargeToDecodeGoesWithoutAPreview() throws {
        // A PNG whose header claims 30000×30000 pixels (900 M, far over the decode cap) and whose
        // data is a stub: its size is read from the header, and no decode is attempted.
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            crc ^= 0xFFFF_FFFF
            return MP4DurationTests.be(UInt64(data.count), 4) + body + MP4DurationTests.be(UInt64(crc), 4)
        }
        let header = MP4DurationTests.be(30_000, 4) + MP4DurationTests.be(30_000, 4) + [8, 2, 0, 0, 0]
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", [0x78, 0x9C])
            + chunk("IEND", [])
        let file = try intake().take(path: write("panorama.png", png))
        let image = try #require(file.image)
        #expect((image.width, image.height) == (30_000, 30_000))
        #expect(image.jpeg.isEmpty)
        #expect(file.json["width"] == 30_000)
    }

    @Test func aCorruptImageIsRefused() {
        let bad = write("broken.jpg", [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0x42, count: 200))
        #expect {
            _ = try intake().take(path: bad)
        } throws: { ($0 as? WauseError)?.code == .invalidRequest }
    }

    @Test func aVoiceNoteGetsItsWaveformAndDuration() throws {
        let bytes = try ImageThumbnail.readWhole(Self.fixture("silence-then-tone.opus"))
        let file = try intake().take(path: write("note.opus", bytes))
        #expect(file.mediaType == .voice)
        #expect(file.mimetype == "audio/ogg; codecs=opus")
        let voice = try #require(file.voice)
        #expect(voice.seconds == 2)
        #expect(voice.samples == 96_000)
        #expect(voice.waveform.count == 64)
        #expect(voice.waveform.max() == 100)
        // The first second is silence, the second a steady tone: low then high, split in the middle.
        #expect(voice.waveform[0..<30].allSatisfy { $0 <= 3 }, "\(voice.waveform)")
        #expect(voice.waveform[34..<64].allSatisfy { $0 >= 85 }, "\(voice.waveform)")
    }

    /// The same waveform computed independently: the fixture decoded by opus-tools' `opusdec --float
    /// --rate 48000` and Baileys' formula applied in a few lines of Python (Fixtures/README.md).
    static let independentWaveform: [UInt8] = [UInt8](repeating: 0, count: 32) + [
        98, 98, 98, 98, 98, 98, 98, 98, 98, 98, 98, 97, 97, 98, 98, 97, 97, 97, 99, 98, 97, 98, 97, 98, 97, 97, 100, 98, 98, 98, 97, 98,
    ]

    @Test func theWaveformMatchesAnIndependentDecode() throws {
        let voice = try VoiceWaveform.analyze(path: Self.fixture("silence-then-tone.opus"))
        // Within one step: both decode with libopus, but float rounding may tip a floor.
        for (ours, theirs) in zip(voice.waveform, Self.independentWaveform) {
            #expect(abs(Int(ours) - Int(theirs)) <= 1, "\(voice.waveform) vs \(Self.independentWaveform)")
        }
    }

    static func fixture(_ name: String) -> String {
        let here = String(#filePath)
        return String(here[..<here.lastIndex(of: "/")!]) + "/Fixtures/" + name
    }
}

/// `MP4Duration` on hand-built ISO base media files: `moov` after `mdat` (as cameras write it),
/// version 0 and 1 `mvhd`, and files without one.
@Suite struct MP4DurationTests {
    let directory = TemporaryDirectory(prefix: "wause-media")

    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(8 + payload.count)
        return [UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)] + Array(type.utf8) + payload
    }

    static func be(_ value: UInt64, _ width: Int) -> [UInt8] { (0..<width).reversed().map { UInt8(value >> (8 * UInt64($0)) & 0xFF) } }

    static func movie(version: UInt8, timescale: UInt64, duration: UInt64) -> [UInt8] {
        let width = version == 1 ? 8 : 4
        let header = [version, 0, 0, 0] + [UInt8](repeating: 0, count: 2 * width) + be(timescale, 4) + be(duration, width)
            + [UInt8](repeating: 0, count: 80)
        return box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isomiso2mp41".utf8))
            + box("mdat", [UInt8](repeating: 0xAB, count: 5000))
            + box("moov", box("mvhd", header) + box("trak", [UInt8](repeating: 0, count: 16)))
    }

    func take(_ bytes: [UInt8], as type: MediaType = .video) throws -> MediaFile {
        let path = directory.file("clip.mp4")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        return try MediaIntake(roots: [directory.path], mediaDirectory: directory.file("media"), randomBytes: SystemRandom.bytes)
            .take(path: path, mediaType: type)
    }

    @Test func aVideoGetsItsSecondsFromMvhd() throws {
        let file = try take(Self.movie(version: 0, timescale: 1000, duration: 12_600))
        #expect(file.format == .mp4)
        #expect(file.mimetype == "video/mp4")
        #expect(file.seconds == 13)
        #expect(file.json["seconds"] == 13)
        #expect(try take(Self.movie(version: 1, timescale: 90_000, duration: 90_000 * 3_600)).seconds == 3_600)
    }

    @Test func noMvhdMeansNoSeconds() throws {
        var bytes = Self.movie(version: 0, timescale: 1000, duration: 5000)
        bytes.removeLast(112 + 24)  // cut into moov: its size now runs past the end
        #expect(try take(bytes).seconds == nil)
    }
}
