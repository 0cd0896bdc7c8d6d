import CQRencode
import CZlib
import WauseSupport

/// A QR code as a module matrix, encoded locally with libqrencode: pairing data never leaves the
/// machine (DESIGN.md "Security"). Renders to PNG (for `/qr.png`, MCP image blocks), SVG and
/// terminal text.
public struct QRCode: Sendable, Equatable {
    /// Modules per side.
    public let size: Int
    /// Row-major, true = dark.
    public let modules: [Bool]

    /// Encodes `text` as 8-bit data with error correction level M (what WhatsApp Web uses for
    /// its ~200-character pairing strings: scannable from a screen at a modest size).
    public init(encoding text: String) throws(WauseError) {
        guard !text.isEmpty else { throw .invalidRequest("cannot encode an empty QR code") }
        guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else {
            throw .internal("libqrencode could not encode \(text.utf8.count) bytes")
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        // Bit 0 of each byte is the module colour; the other bits describe the module's role.
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        size = width
        modules = data.map { $0 & 1 == 1 }
    }

    public func isDark(row: Int, column: Int) -> Bool {
        guard row >= 0, row < size, column >= 0, column < size else { return false }
        return modules[row * size + column]
    }

    /// The quiet zone the QR specification requires around the symbol, in modules.
    public static let quietZone = 4

    // MARK: PNG

    /// A greyscale PNG, `scale` pixels per module, with the quiet zone.
    public func png(scale: Int = 8) throws(WauseError) -> [UInt8] {
        let side = (size + 2 * QRCode.quietZone) * scale
        // One filter byte (0 = none) per row, then one byte per pixel.
        var raw = [UInt8](repeating: 0xFF, count: side * (side + 1))
        for y in 0..<side {
            raw[y * (side + 1)] = 0
            let row = y / scale - QRCode.quietZone
            for x in 0..<side where isDark(row: row, column: x / scale - QRCode.quietZone) {
                raw[y * (side + 1) + 1 + x] = 0x00
            }
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let rc = compress2(&compressed, &compressedSize, raw, uLong(raw.count), Z_BEST_COMPRESSION)
        guard rc == Z_OK else { throw .internal("zlib failed to compress the QR image (\(rc))") }
        compressed.removeSubrange(Int(compressedSize)...)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = [UInt8]()
        header.appendBigEndian(UInt32(side))
        header.appendBigEndian(UInt32(side))
        header += [8, 0, 0, 0, 0]  // bit depth 8, greyscale, deflate, adaptive filtering, no interlace
        QRCode.appendChunk("IHDR", header, to: &png)
        QRCode.appendChunk("IDAT", compressed, to: &png)
        QRCode.appendChunk("IEND", [], to: &png)
        return png
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        png.appendBigEndian(UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        png += typeAndData
        let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        png.appendBigEndian(UInt32(crc))
    }

    // MARK: SVG

    /// An SVG with one path, black on white, scalable.
    public func svg(moduleSize: Int = 8) -> String {
        let side = size + 2 * QRCode.quietZone
        var path = ""
        for row in 0..<size {
            var column = 0
            while column < size {
                guard isDark(row: row, column: column) else { column += 1; continue }
                let start = column
                while column < size, isDark(row: row, column: column) { column += 1 }
                path += "M\(start + QRCode.quietZone) \(row + QRCode.quietZone)h\(column - start)v1h-\(column - start)z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(side * moduleSize)" \
            height="\(side * moduleSize)" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>\
            <path fill="#000" d="\(path)"/></svg>
            """
    }

    // MARK: Terminal

    /// Two module rows per text line with Unicode half blocks, dark-on-light regardless of the
    /// terminal's theme (explicit ANSI colours), with a quiet zone of 2.
    public func terminalText() -> String {
        let margin = 2
        let light = "\u{1B}[47m\u{1B}[30m"
        let reset = "\u{1B}[0m"
        var out = ""
        var row = -margin
        while row < size + margin {
            out += light
            for column in -margin..<(size + margin) {
                let top = isDark(row: row, column: column)
                let bottom = isDark(row: row + 1, column: column)
                switch (top, bottom) {
                case (true, true): out += "█"
                case (true, false): out += "▀"
                case (false, true): out += "▄"
                case (false, false): out += " "
                }
            }
            out += reset + "\n"
            row += 2
        }
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24 & 0xFF))
        append(UInt8(value >> 16 & 0xFF))
        append(UInt8(value >> 8 & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
