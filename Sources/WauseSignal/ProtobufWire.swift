/// The protobuf wire format (varints and length-delimited fields) for the handful of fixed
/// messages this layer reads and writes on every message: session records and the `msg`/`pkmsg`
/// bodies. Written by hand because SwiftProtobuf's generic encoder and decoder were most of the
/// cost of a record round trip (`make bench`); the generated types in WauseProto stay the
/// reference, and tests check that both produce and accept the same bytes.
///
/// Fields are written in ascending field-number order, as SwiftProtobuf and protoc write them,
/// so the bytes are identical. The reader skips unknown fields of every wire type except the
/// deprecated groups, and reports any truncation or overlong varint as an error.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func tag(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func uint32(_ field: Int, _ value: UInt32) {
        tag(field, 0)
        varint(UInt64(value))
    }

    /// int32 is sign-extended to 64 bits on the wire (a negative value takes ten bytes).
    mutating func int32(_ field: Int, _ value: Int32) {
        tag(field, 0)
        varint(UInt64(bitPattern: Int64(value)))
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    /// A public key written `0x05 ‖ key` without building the 33-byte array first.
    mutating func djbKey(_ field: Int, _ key: [UInt8]) {
        tag(field, 2)
        varint(UInt64(key.count + 1))
        bytes.append(0x05)
        bytes += key
    }

    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter(capacity: 128)
        body(&nested)
        bytes(field, nested.bytes)
    }
}

struct ProtobufReader {
    enum Failure: Error { case malformed(String) }

    private let bytes: [UInt8]
    private var position: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
        end = bytes.count
    }

    private init(_ bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    /// The next field's number and wire type, or nil at the end.
    mutating func next() throws(Failure) -> (field: Int, wireType: Int)? {
        guard position < end else { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3), wireType = Int(key & 7)
        guard field > 0, field < 1 << 29 else { throw .malformed("field number \(field)") }
        return (field, wireType)
    }

    mutating func varint() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .malformed("truncated varint") }
            let byte = bytes[position]
            position += 1
            guard shift < 64, shift != 63 || byte <= 1 else { throw .malformed("varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// A uint32 or int32 field: the low 32 bits of the varint, as protobuf readers take them.
    mutating func uint32(_ wireType: Int) throws(Failure) -> UInt32 {
        guard wireType == 0 else { throw .malformed("expected a varint, wire type \(wireType)") }
        return UInt32(truncatingIfNeeded: try varint())
    }

    private mutating func lengthDelimitedRange(_ wireType: Int) throws(Failure) -> Range<Int> {
        guard wireType == 2 else { throw .malformed("expected a length-delimited field, wire type \(wireType)") }
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .malformed("length \(length) runs past the end") }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func bytes(_ wireType: Int) throws(Failure) -> [UInt8] {
        Array(bytes[try lengthDelimitedRange(wireType)])
    }

    /// A nested message's reader.
    mutating func message(_ wireType: Int) throws(Failure) -> ProtobufReader {
        ProtobufReader(bytes, range: try lengthDelimitedRange(wireType))
    }

    mutating func skip(_ wireType: Int) throws(Failure) {
        switch wireType {
        case 0: _ = try varint()
        case 1: try advance(8)
        case 2: _ = try lengthDelimitedRange(wireType)
        case 5: try advance(4)
        default: throw .malformed("wire type \(wireType)")
        }
    }

    private mutating func advance(_ count: Int) throws(Failure) {
        guard end - position >= count else { throw .malformed("truncated fixed-width field") }
        position += count
    }
}
