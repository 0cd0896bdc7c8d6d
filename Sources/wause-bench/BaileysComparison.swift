#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs baileys-python's codec over the same frames (tests/interop/binary_bench.py) so both
/// implementations are measured in one run on the same machine and the same bytes.
enum BaileysComparison {
    struct Result {
        var figures: [String: CodecBenchmark.Figures] = [:]
        var failure: String?
    }

    /// Writes the corpora as "name hex" lines, runs `python script --corpus file --seconds s` and
    /// reads its "name decode_MBps encode_MBps" lines.
    static func run(python: String, script: String, corpora: [CodecBenchmark.Corpus], seconds: Double) -> Result {
        var path = Array("/tmp/wause-bench-corpus-XXXXXX".utf8CString)
        let descriptor = path.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { return Result(failure: "cannot create a temporary corpus file") }
        let corpusPath = path.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { unlink(corpusPath) }

        var text = ""
        for corpus in corpora {
            for frame in corpus.frames { text += corpus.name + " " + hex(frame) + "\n" }
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else { return Result(failure: "cannot write the corpus file") }

        let command = "\(quoted(python)) \(quoted(script)) --corpus \(quoted(corpusPath)) --seconds \(seconds) 2>&1"
        guard let pipe = popen(command, "r") else { return Result(failure: "cannot start \(python)") }
        var output = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            output += buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        let status = pclose(pipe)

        var result = Result()
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, fields[0] == "figures", let decode = Double(fields[2]), let encode = Double(fields[3]) else { continue }
            result.figures[String(fields[1])] = CodecBenchmark.Figures(decodeMBps: decode, encodeMBps: encode)
        }
        if status != 0 || result.figures.isEmpty {
            let detail = output.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            result.failure = "\(script) failed: \(detail)"
        }
        return result
    }

    /// A single-quoted shell word.
    private static func quoted(_ text: String) -> String {
        var result = "'"
        for character in text { result += character == "'" ? "'\\''" : String(character) }
        return result + "'"
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}
