import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseSupport

/// The history-sync blob both sides of the wire handle (whatsmeow message.go
/// DownloadHistorySync, Baileys src/Utils/history.ts downloadHistory): a `HistorySync` protobuf,
/// zlib-compressed (RFC 1950, with header — not raw deflate, not gzip), either inline in the
/// notification (`initialHistBootstrapInlinePayload`) or encrypted as `md-msg-hist` media.
public enum HistorySyncBlob {
    /// Inflation is bounded: a blob from the network must not make us allocate without limit. The
    /// phone's chunks are a few MB inflated; 256 MB leaves room for a large FULL chunk.
    public static let inflatedLimit = 256 << 20

    /// Inflates and decodes one blob; a bad blob is an `invalid_request` naming what was wrong.
    public static func decode(_ compressed: [UInt8], limit: Int = inflatedLimit) throws(WauseError) -> WAWebProtobufsHistorySync_HistorySync {
        let inflated: [UInt8]
        do {
            inflated = try compressed.withUnsafeBufferPointer { buffer throws(NodeDecodingError) in try Zlib.inflate(buffer, limit: limit) }
        } catch {
            throw .invalidRequest("the history sync blob does not inflate: \(error)")
        }
        do {
            return try WAWebProtobufsHistorySync_HistorySync(serializedBytes: inflated)
        } catch {
            throw .invalidRequest("the history sync blob is not a HistorySync protobuf: \(error)")
        }
    }

    /// Encodes and compresses one chunk (the simulator's phones; tests).
    public static func encode(_ sync: WAWebProtobufsHistorySync_HistorySync) throws(WauseError) -> [UInt8] {
        do {
            let bytes: [UInt8] = try sync.serializedBytes()
            return try Zlib.deflate(bytes)
        } catch {
            throw .internal("cannot encode a history sync chunk: \(error)")
        }
    }
}
