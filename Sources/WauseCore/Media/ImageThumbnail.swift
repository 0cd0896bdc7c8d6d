import CPNG
import CTurboJPEG
import CWebP
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// An image's size and the small JPEG preview an image message carries (`jpegThumbnail`),
/// decoded and encoded by Debian's libjpeg-turbo, libpng and libwebp.
public struct ImageThumbnail: Sendable, Equatable {
    /// The original's size in pixels (the message's `width`/`height`).
    public var width: Int
    public var height: Int
    /// The preview, a baseline JPEG; empty when only the size was asked for (stickers).
    public var jpeg: [UInt8]
    public var thumbnailWidth: Int
    public var thumbnailHeight: Int

    /// The longest side of a preview. Baileys (messages-media.ts extractImageThumb) scales to 32 px
    /// wide, which looks blurred in a chat; 72 stays a few kilobytes at quality 50 (the message
    /// carries it inline) while a chat list can still show it.
    public static let maximumSide = 72
    /// JPEG quality of the preview, as Baileys' extractImageThumb (quality 50).
    public static let quality: Int32 = 50
    /// A decoded image is held in memory once (RGB, 3 bytes a pixel): this caps it at 75 MB, far
    /// above any photo, so a small file claiming huge dimensions (a decompression bomb) is refused.
    static let maximumDecodedPixels = 25_000_000

    /// The size and preview of the image at `path` (a JPEG, PNG or WebP, at most 16 MB). A file
    /// whose header does not parse is refused; one that parses but will not decode here (a CMYK
    /// JPEG, more pixels than `maximumDecodedPixels`) goes without a preview, which the message
    /// allows, rather than not at all.
    public static func make(path: String, format: SniffedFormat, maximumSide: Int = maximumSide) throws(WauseError) -> ImageThumbnail {
        let bytes = try readWhole(path)
        let (width, height) = try dimensions(bytes, format: format)
        guard width > 0, height > 0 else { throw undecodable(format, "zero size") }
        do {
            return try preview(bytes, format: format, maximumSide: maximumSide)
        } catch {
            return ImageThumbnail(width: width, height: height, jpeg: [], thumbnailWidth: 0, thumbnailHeight: 0)
        }
    }

    static func preview(_ bytes: [UInt8], format: SniffedFormat, maximumSide: Int) throws(WauseError) -> ImageThumbnail {
        let image = try decode(bytes, format: format, atLeast: maximumSide)
        let scale = min(1, Double(maximumSide) / Double(max(image.width, image.height)))
        let width = max(1, Int((Double(image.width) * scale).rounded()))
        let height = max(1, Int((Double(image.height) * scale).rounded()))
        let small = image.width == width && image.height == height ? image.rgb
            : boxDownscale(image.rgb, width: image.width, height: image.height, toWidth: width, toHeight: height)
        return ImageThumbnail(width: image.originalWidth, height: image.originalHeight,
                              jpeg: try encodeJPEG(rgb: small, width: width, height: height, quality: quality),
                              thumbnailWidth: width, thumbnailHeight: height)
    }

    /// Only the size (a sticker's `width`/`height`), read from the header without decoding: the
    /// first 64 KiB hold it (WebP's is in its first 30 bytes; a JPEG's SOF follows its EXIF, ≤ 64 KiB).
    public static func size(path: String, format: SniffedFormat) throws(WauseError) -> ImageThumbnail {
        let bytes = try readWhole(path, limit: 1 << 16)
        let (width, height) = try dimensions(bytes, format: format)
        return ImageThumbnail(width: width, height: height, jpeg: [], thumbnailWidth: 0, thumbnailHeight: 0)
    }

    static func undecodable(_ format: SniffedFormat, _ why: String) -> WauseError {
        .invalidRequest("the file starts like \(format.label) but cannot be decoded (\(why))", details: ["detected": .string(format.rawValue)])
    }

    // MARK: - Decoding

    struct RGBImage {
        var rgb: [UInt8]
        var width: Int
        var height: Int
        var originalWidth: Int
        var originalHeight: Int
    }

    public static func dimensions(_ bytes: [UInt8], format: SniffedFormat) throws(WauseError) -> (width: Int, height: Int) {
        switch format {
        case .jpeg:
            guard let handle = tjInitDecompress() else { throw .internal("tjInitDecompress failed") }
            defer { tjDestroy(handle) }
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
                throw undecodable(format, String(cString: tjGetErrorStr2(handle)))
            }
            return (Int(width), Int(height))
        case .png:
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, bytes, bytes.count) != 0 else { throw undecodable(format, pngMessage(image)) }
            return (Int(image.width), Int(image.height))
        case .webp:
            var width: Int32 = 0, height: Int32 = 0
            guard WebPGetInfo(bytes, bytes.count, &width, &height) != 0 else { throw undecodable(format, "bad WebP header") }
            return (Int(width), Int(height))
        default:
            throw .invalidRequest("\(format.label) is not an image this engine can read (JPEG, PNG or WebP)")
        }
    }

    /// Decodes to RGB. JPEGs decode already scaled down (libjpeg-turbo's DCT scaling) to the smallest
    /// size whose longer side is still at least `atLeast`, which is faster and smaller than full size.
    static func decode(_ bytes: [UInt8], format: SniffedFormat, atLeast: Int) throws(WauseError) -> RGBImage {
        let (width, height) = try dimensions(bytes, format: format)
        guard width > 0, height > 0 else { throw undecodable(format, "zero size") }
        switch format {
        case .jpeg:
            guard let handle = tjInitDecompress() else { throw .internal("tjInitDecompress failed") }
            defer { tjDestroy(handle) }
            var (scaledWidth, scaledHeight) = (width, height)
            var count: Int32 = 0
            if let factors = tjGetScalingFactors(&count) {
                for factor in UnsafeBufferPointer(start: factors, count: Int(count)) {
                    let w = (width * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom)
                    let h = (height * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom)
                    if max(w, h) >= atLeast, w * h < scaledWidth * scaledHeight { (scaledWidth, scaledHeight) = (w, h) }
                }
            }
            guard scaledWidth * scaledHeight <= maximumDecodedPixels else { throw tooManyPixels(width, height) }
            var rgb = [UInt8](repeating: 0, count: scaledWidth * scaledHeight * 3)
            let status = tjDecompress2(handle, bytes, UInt(bytes.count), &rgb, Int32(scaledWidth), 0, Int32(scaledHeight),
                                       Int32(TJPF_RGB.rawValue), 0)
            // A warning (-1 with TJERR_WARNING, e.g. a truncated file) still filled what it could;
            // only a fatal error means no image.
            guard status == 0 || tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) else {
                throw undecodable(format, String(cString: tjGetErrorStr2(handle)))
            }
            return RGBImage(rgb: rgb, width: scaledWidth, height: scaledHeight, originalWidth: width, originalHeight: height)
        case .png:
            guard width * height <= maximumDecodedPixels else { throw tooManyPixels(width, height) }
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, bytes, bytes.count) != 0 else { throw undecodable(format, pngMessage(image)) }
            image.format = UInt32(PNG_FORMAT_RGB)
            // Transparent pixels are composed over white, as a chat bubble shows them.
            var white = png_color(red: 255, green: 255, blue: 255)
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            guard png_image_finish_read(&image, &white, &rgb, 0, nil) != 0 else { throw undecodable(format, pngMessage(image)) }
            return RGBImage(rgb: rgb, width: width, height: height, originalWidth: width, originalHeight: height)
        case .webp:
            guard width * height <= maximumDecodedPixels else { throw tooManyPixels(width, height) }
            var decodedWidth: Int32 = 0, decodedHeight: Int32 = 0
            guard let pixels = WebPDecodeRGB(bytes, bytes.count, &decodedWidth, &decodedHeight) else { throw undecodable(format, "bad WebP data") }
            defer { WebPFree(pixels) }
            let rgb = Array(UnsafeBufferPointer(start: pixels, count: Int(decodedWidth) * Int(decodedHeight) * 3))
            return RGBImage(rgb: rgb, width: Int(decodedWidth), height: Int(decodedHeight), originalWidth: width, originalHeight: height)
        default:
            throw .invalidRequest("\(format.label) is not an image this engine can read (JPEG, PNG or WebP)")
        }
    }

    static func tooManyPixels(_ width: Int, _ height: Int) -> WauseError {
        .invalidRequest("the image is \(width)×\(height) pixels, more than the \(maximumDecodedPixels) this engine decodes",
                        details: ["width": .int(Int64(width)), "height": .int(Int64(height))])
    }

    static func pngMessage(_ image: png_image) -> String {
        withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Area averaging: each target pixel is the mean of the source pixels it covers, which keeps
    /// fine detail from aliasing the way nearest-neighbour sampling would.
    static func boxDownscale(_ rgb: [UInt8], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: toWidth * toHeight * 3)
        for ty in 0..<toHeight {
            let y0 = ty * height / toHeight, y1 = max(y0 + 1, (ty + 1) * height / toHeight)
            for tx in 0..<toWidth {
                let x0 = tx * width / toWidth, x1 = max(x0 + 1, (tx + 1) * width / toWidth)
                var sums = (0, 0, 0)
                for y in y0..<y1 {
                    var index = (y * width + x0) * 3
                    for _ in x0..<x1 {
                        sums.0 += Int(rgb[index]); sums.1 += Int(rgb[index + 1]); sums.2 += Int(rgb[index + 2])
                        index += 3
                    }
                }
                let count = (y1 - y0) * (x1 - x0)
                let target = (ty * toWidth + tx) * 3
                out[target] = UInt8((sums.0 + count / 2) / count)
                out[target + 1] = UInt8((sums.1 + count / 2) / count)
                out[target + 2] = UInt8((sums.2 + count / 2) / count)
            }
        }
        return out
    }

    // MARK: - Encoding

    /// A baseline JPEG of packed RGB pixels, 4:2:0 as photos are sent.
    public static func encodeJPEG(rgb: [UInt8], width: Int, height: Int, quality: Int32) throws(WauseError) -> [UInt8] {
        guard rgb.count == width * height * 3 else { throw .internal("RGB buffer of \(rgb.count) bytes for \(width)×\(height)") }
        guard let handle = tjInitCompress() else { throw .internal("tjInitCompress failed") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        guard tjCompress2(handle, rgb, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue), &output, &size,
                          Int32(TJSAMP_420.rawValue), quality, 0) == 0, let output else {
            throw .internal("JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        defer { tjFree(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    static func readWhole(_ path: String, limit: Int = .max) throws(WauseError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .internal("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .internal("reading \(path) failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count >= limit { return Array(bytes.prefix(limit)) }
        }
    }
}
