import COpusFile
import WauseSupport

/// A voice note's duration and the 64-sample waveform its message carries (`waveform`), decoded
/// with Debian's libopusfile and computed by the reference clients' formula (Baileys
/// messages-media.ts getAudioWaveform): the first channel's samples cut into 64 equal blocks, the
/// mean absolute value of each, scaled so the loudest block is 1, then `floor(100 × value)`.
public struct VoiceWaveform: Sendable, Equatable {
    public static let sampleCount = 64

    /// 64 values from 0 to 100.
    public var waveform: [UInt8]
    /// Whole seconds, rounded (at least 1 for any sound).
    public var seconds: Int
    /// Samples per channel at libopusfile's 48 kHz output rate.
    public var samples: Int64

    /// Decodes the Ogg/Opus file at `path` once, streaming: memory stays constant whatever its length.
    public static func analyze(path: String) throws(WauseError) -> VoiceWaveform {
        var error: Int32 = 0
        guard let file = op_open_file(path, &error) else {
            throw .invalidRequest("the file starts like Ogg/Opus but cannot be decoded (libopusfile error \(error))")
        }
        defer { op_free(file) }
        // The exact length (it needs a seekable file, which a copy on disk is) fixes the block
        // size before decoding, so the blocks are summed as the samples go by.
        let total = op_pcm_total(file, -1)
        guard total > 0 else { throw .invalidRequest("the Ogg/Opus file holds no audio") }
        let blockSize = total / Int64(sampleCount)
        var sums = [Double](repeating: 0, count: sampleCount)
        var position: Int64 = 0
        // 120 ms at 48 kHz, the longest Opus packet, for up to 8 channels.
        var buffer = [Float](repeating: 0, count: 5760 * 8)
        while true {
            var link: Int32 = 0
            let count = op_read_float(file, &buffer, Int32(buffer.count), &link)
            if count == OP_HOLE { continue }  // a gap in the stream: libopusfile goes on after it
            guard count >= 0 else { throw .invalidRequest("the Ogg/Opus file is damaged (libopusfile error \(count))") }
            if count == 0 { break }
            let channels = Int(op_channel_count(file, link))
            guard blockSize > 0 else { position += Int64(count); continue }
            for frame in 0..<Int(count) {
                let block = Int((position + Int64(frame)) / blockSize)
                guard block < sampleCount else { break }  // the remainder past 64 whole blocks, as Baileys drops it
                sums[block] += Double(abs(buffer[frame * channels]))
            }
            position += Int64(count)
        }
        let means = sums.map { blockSize > 0 ? $0 / Double(blockSize) : 0 }
        let loudest = means.max() ?? 0
        let waveform = means.map { loudest > 0 ? UInt8(min(100, (100 * $0 / loudest).rounded(.down))) : 0 }
        let seconds = max(1, Int((Double(total) / 48_000).rounded()))
        return VoiceWaveform(waveform: waveform, seconds: seconds, samples: total)
    }
}
