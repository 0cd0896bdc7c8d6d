import CZlib

/// zlib (RFC 1950, with header) for frames whose flag byte has bit 0x02 set (whatsmeow binary/unpack.go Unpack), through
/// Debian's libz. Inflation is bounded: a frame from the network must not be able to make us
/// allocate without limit.
public enum Zlib {
    /// Inflates one complete zlib stream (or, with `gzip`, one gzip member: RFC 1952, as the app-state
    /// recovery snapshot comes — whatsmeow appstate/recovery.go ParseRecovery) of at most `limit` bytes of output.
    public static func inflate(_ input: UnsafeBufferPointer<UInt8>, limit: Int, gzip: Bool = false) throws(NodeDecodingError) -> [UInt8] {
        // z_stream counts input in 32 bits; frames are at most 16 MiB (whatsmeow socket/framesocket.go SendFrame, processData).
        guard input.count <= Int(UInt32.max) else {
            throw NodeDecodingError(.inflatedSizeTooLarge(limit: limit), at: 0)
        }
        var stream = z_stream()
        // windowBits 15 is zlib's default; +16 reads a gzip header and trailer instead (zlib.h inflateInit2).
        let initStatus = inflateInit2_(&stream, gzip ? 15 + 16 : 15, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw NodeDecodingError(.decompressionFailed(code: initStatus, message: "inflateInit failed"), at: 0)
        }
        defer { inflateEnd(&stream) }

        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)

        // One byte beyond the limit lets us tell "exactly at the limit" from "over it".
        let capacityLimit = limit + 1
        var output = [UInt8](repeating: 0, count: min(capacityLimit, max(4096, input.count * 4)))
        var produced = 0
        while true {
            if produced == output.count {
                guard output.count < capacityLimit else {
                    throw NodeDecodingError(.inflatedSizeTooLarge(limit: limit), at: 0)
                }
                let grown = min(capacityLimit, output.count * 2)
                output.append(contentsOf: [UInt8](repeating: 0, count: grown - output.count))
            }
            let status: Int32 = output.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress! + produced
                stream.avail_out = UInt32(buffer.count - produced)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced = buffer.count - Int(stream.avail_out)
                return status
            }
            if produced > limit {
                throw NodeDecodingError(.inflatedSizeTooLarge(limit: limit), at: 0)
            }
            switch status {
            case Z_STREAM_END:
                if stream.avail_in > 0 {
                    throw NodeDecodingError(.trailingCompressedBytes(count: Int(stream.avail_in)), at: 0)
                }
                output.removeLast(output.count - produced)
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                // No progress possible and no input left: the stream was cut short.
                throw NodeDecodingError(.truncatedCompressedPayload, at: 0)
            case Z_BUF_ERROR:
                continue  // the output buffer is full; it grows at the top of the loop
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw NodeDecodingError(.decompressionFailed(code: status, message: message), at: 0)
            }
        }
    }

    /// Compresses `input` as one zlib stream (default level).
    public static func deflate(_ input: [UInt8]) throws(NodeEncodingError) -> [UInt8] {
        var outputLength = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(outputLength))
        let status = output.withUnsafeMutableBufferPointer { destination in
            input.withUnsafeBufferPointer { source in
                compress2(destination.baseAddress, &outputLength, source.baseAddress, uLong(source.count), Z_DEFAULT_COMPRESSION)
            }
        }
        guard status == Z_OK else { throw NodeEncodingError.compressionFailed(code: status) }
        output.removeLast(output.count - Int(outputLength))
        return output
    }

    /// Compresses `input` as one gzip member (RFC 1952, default level): what a phone sends an
    /// app-state recovery snapshot as (whatsmeow appstate/recovery.go reads it with gzip.NewReader).
    public static func gzip(_ input: [UInt8]) throws(NodeEncodingError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 writes a gzip wrapper (zlib.h deflateInit2); memLevel 8 is the default.
        let initStatus = deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                       zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw NodeEncodingError.compressionFailed(code: initStatus) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = UInt32(destination.count)
                return CZlib.deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw NodeEncodingError.compressionFailed(code: status) }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
