import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// A video's (or M4A's) length from its ISO base media boxes: `moov` → `mvhd` holds the movie's
/// timescale and duration (ISO/IEC 14496-12, the movie header box). Read with a few small preads wherever `moov`
/// sits (files written for streaming put it first, cameras often last), never the whole file.
public enum MP4Duration {
    /// Whole seconds, rounded; nil when the file has no readable `mvhd`.
    public static func seconds(path: String) -> Int? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        guard let movie = findBox("moov", in: descriptor, from: 0, to: Int64(info.st_size)),
              let header = findBox("mvhd", in: descriptor, from: movie.start, to: movie.end) else { return nil }
        // version(1) flags(3), then creation and modification times (4 bytes each in version 0,
        // 8 in version 1), the timescale (4) and the duration (4 or 8).
        guard let version = readBytes(descriptor, at: header.start, count: 1)?.first else { return nil }
        let (offset, width): (Int64, Int) = version == 1 ? (20, 8) : (12, 4)
        guard let fields = readBytes(descriptor, at: header.start + offset, count: 4 + width) else { return nil }
        let timescale = bigEndian(fields[0..<4])
        let duration = bigEndian(fields[4...])
        guard timescale > 0, duration != UInt64.max, duration != 0xFFFF_FFFF || width == 8 else { return nil }
        return Int((Double(duration) / Double(timescale)).rounded())
    }

    /// The payload range of the first box of `type` among the boxes between `start` and `end`.
    static func findBox(_ type: String, in descriptor: Int32, from start: Int64, to end: Int64) -> (start: Int64, end: Int64)? {
        var position = start
        // A bound on the boxes walked: a crafted file of many tiny boxes cannot keep this busy.
        for _ in 0..<10_000 where position + 8 <= end {
            guard let header = readBytes(descriptor, at: position, count: 8) else { return nil }
            var size = Int64(bigEndian(header[0..<4]))
            var headerLength: Int64 = 8
            if size == 1 {
                guard let large = readBytes(descriptor, at: position + 8, count: 8) else { return nil }
                size = Int64(clamping: bigEndian(large[0...]))
                headerLength = 16
            } else if size == 0 {
                size = end - position  // the last box runs to the end
            }
            guard size >= headerLength, position + size <= end else { return nil }
            if String(decoding: header[4..<8], as: UTF8.self) == type { return (position + headerLength, position + size) }
            position += size
        }
        return nil
    }

    static func readBytes(_ descriptor: Int32, at offset: Int64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        return read == count ? bytes : nil
    }

    static func bigEndian(_ bytes: some Collection<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
