import WauseBinary
import WauseSupport

/// `wause-wire encode` and `wause-wire decode`: the binary XML codec (WauseBinary) between JSON
/// and hex, so that other implementations (baileys-python in tests/interop) can check ours.
enum CodecCommands {
    static let jsonForm = """
    JSON form of a node:
      {"tag": "iq", "attrs": {"id": "1", "to": {"jid": "s.whatsapp.net"}}, "content": ...}
      - "tag": non-empty string.
      - "attrs" (optional): object; members are written in the order given. To repeat a name
        (a received node can carry one twice), an array of [name, value] pairs in order instead:
          [["type", "a"], ["type", "b"]]
        A value is a string, or a JID object, which is always written as a JID on the wire
        (JID_PAIR / AD_JID / FB_JID / INTEROP_JID), never as a plain string or token:
          {"jid": "user@server" | "user:device@server" | "user.agent:device@server" | "server"
                  | "integrator-user:device@interop"}
          {"user": "...", "server": "...", "agent": 0, "device": 0, "integrator": 0}
            (explicit form, for JIDs whose text form is ambiguous; numbers optional)
        Empty string values are not written (as whatsmeow does).
      - "content" (optional): one of
          null or absent       no content
          [node, ...]          child nodes ([] is an empty child list, not "no content")
          {"bytes_hex": "..."} binary content
          "text"               a string (token, packed or raw UTF-8 on the wire)
          {"jid": ...}         a JID (either JID form above)
    No JSON object may name a key twice. decode prints the same form. Raw-length content comes
    back as {"bytes_hex"}, tokens and packed strings as "text" (whatsmeow's convention).
    Attributes appear in wire order: an object, or the pair array when a name repeats.
    """

    static let encode = Subcommand(
        name: "encode",
        summary: "JSON node on stdin -> hex of the frame payload (flag byte + node)",
        help: """
        usage: wause-wire encode [--zlib] [--lines]

        Reads one JSON node on stdin and prints the hex of the decrypted frame payload: the flag
        byte (00, or 02 with --zlib), then the encoded node (whatsmeow binary/encoder.go; binary/decoder.go).

          --zlib   compress the node with zlib and set flag 0x02
          --lines  read one JSON node per line, print one hex frame per line

        \(jsonForm)

        Invalid input prints a message on stderr and exits with status 2.

        """,
        throwing: runEncode)

    static let decode = Subcommand(
        name: "decode",
        summary: "hex frame payload on stdin -> JSON node",
        help: """
        usage: wause-wire decode [--pretty] [--lines]

        Reads the hex of a decrypted frame payload (flag byte + node; zlib-inflated when the flag
        has bit 0x02) and prints the node as JSON. Whitespace in the hex is ignored.

          --pretty  indent the JSON
          --lines   read one hex frame per line, print one JSON node per line

        \(jsonForm)

        Malformed frames print the decoder's error (with the byte offset) on stderr and exit
        with status 2.

        """,
        throwing: runDecode)

    private static func runEncode(_ arguments: [String]) throws(CommandFailure) {
        let options = try WireCLI.parseOptions(arguments, flags: ["--zlib", "--lines"])
        let compression: FrameCompression = options.flags.contains("--zlib") ? .zlib : .none
        let input = try WireCLI.readStdin()
        var output = ""
        for (lineNumber, text) in try units(of: input, lines: options.flags.contains("--lines")) {
            do throws(CommandFailure) {
                let json: JSONValue
                do { json = try parseNodeJSON(text) } catch {
                    throw .badInput("invalid JSON at byte \(error.offset): \(error.message)")
                }
                let node = try NodeJSON.node(from: json, path: "$")
                let frame: [UInt8]
                do { frame = try NodeEncoder().encodeFrame(node, compression: compression) } catch {
                    throw .badInput("cannot encode: \(error)")
                }
                output += HexText.string(frame) + "\n"
            } catch {
                throw .badInput(lineNumber.map { "line \($0): " + error.message } ?? error.message)
            }
        }
        WireCLI.writeStdout(output)
    }

    private static func runDecode(_ arguments: [String]) throws(CommandFailure) {
        let options = try WireCLI.parseOptions(arguments, flags: ["--pretty", "--lines"])
        let input = try WireCLI.readStdin()
        var output = ""
        for (lineNumber, text) in try units(of: input, lines: options.flags.contains("--lines")) {
            do throws(CommandFailure) {
                let frame = try HexText.bytes(text)
                let node: Node
                do { node = try NodeDecoder().decodeFrame(frame) } catch { throw .badInput(error.description) }
                let json = NodeJSON.json(from: node)
                output += (options.flags.contains("--pretty") ? json.prettyPrinted : json.serialized) + "\n"
            } catch {
                throw .badInput(lineNumber.map { "line \($0): " + error.message } ?? error.message)
            }
        }
        WireCLI.writeStdout(output)
    }

    /// encode must read back what decode prints: nodes up to `DecodingLimits.maxDepth` (64) deep
    /// take two JSON levels each, plus three for an attribute's JID object, more than the default
    /// `JSONValue.maximumDepth`; 512 is the limit wause-wire has always had. A repeated key is
    /// refused rather than silently dropped (repeated attribute names have the pair form).
    private static func parseNodeJSON(_ text: ArraySlice<UInt8>) throws(JSONParseError) -> JSONValue {
        try JSONValue.parse(bytes: Array(text), maximumDepth: 512, duplicateKeys: .reject)
    }

    /// The whole input, or each non-blank line with its 1-based number.
    private static func units(of input: [UInt8], lines: Bool) throws(CommandFailure) -> [(Int?, ArraySlice<UInt8>)] {
        guard lines else {
            guard input.contains(where: { !HexText.isWhitespace($0) }) else { throw .badInput("no input on stdin") }
            return [(nil, input[...])]
        }
        return input.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            line.contains(where: { !HexText.isWhitespace($0) }) ? (index + 1, line) : nil
        }
    }
}

/// Hex text ↔ bytes.
enum HexText {
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    static func string(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    static func bytes(_ text: some Collection<UInt8>) throws(CommandFailure) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8? = nil
        for (position, character) in text.enumerated() where !isWhitespace(character) {
            let value: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
            default: throw .badInput("invalid hex character at position \(position)")
            }
            if let pending = high {
                bytes.append(pending << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        guard high == nil else { throw .badInput("odd number of hex digits") }
        return bytes
    }
}

/// The JSON form of a node (see `CodecCommands.jsonForm`).
enum NodeJSON {
    // MARK: JSON → Node

    static func node(from json: JSONValue, path: String) throws(CommandFailure) -> Node {
        guard case .object(let members) = json else { throw .badInput("\(path): a node must be an object, not \(json.typeName)") }
        var tag: String? = nil
        var attributes = Attributes()
        var content = Node.Content.none
        for (key, value) in members {
            switch key {
            case "tag":
                guard case .string(let text) = value, !text.isEmpty else { throw .badInput("\(path).tag: must be a non-empty string") }
                tag = text
            case "attrs":
                attributes = try self.attributes(from: value, path: "\(path).attrs")
            case "content":
                content = try self.content(from: value, path: "\(path).content")
            default:
                throw .badInput("\(path): unknown member \"\(key)\" (expected tag, attrs, content)")
            }
        }
        guard let tag else { throw .badInput("\(path): missing \"tag\"") }
        return Node(tag: tag, attributes: attributes, content: content)
    }

    /// An object of name → value, or an array of [name, value] pairs (names may repeat).
    private static func attributes(from json: JSONValue, path: String) throws(CommandFailure) -> Attributes {
        var attributes = Attributes()
        switch json {
        case .null:
            break
        case .object(let members):
            for (name, value) in members {
                attributes.append(Attribute(name: name, value: try attributeValue(from: value, path: "\(path).\(name)")))
            }
        case .array(let pairs):
            for (index, pair) in pairs.enumerated() {
                guard case .array(let items) = pair, items.count == 2, case .string(let name) = items[0] else {
                    throw .badInput("\(path)[\(index)]: must be a [name, value] pair with a string name")
                }
                attributes.append(Attribute(name: name, value: try attributeValue(from: items[1], path: "\(path)[\(index)][1]")))
            }
        default:
            throw .badInput("\(path): must be an object or an array of [name, value] pairs, not \(json.typeName)")
        }
        return attributes
    }

    private static func attributeValue(from json: JSONValue, path: String) throws(CommandFailure) -> AttributeValue {
        switch json {
        case .string(let text): return .text(text)
        case .object: return .jid(try jid(from: json, path: path))
        default: throw .badInput("\(path): an attribute value must be a string or a JID object, not \(json.typeName)")
        }
    }

    private static func content(from json: JSONValue, path: String) throws(CommandFailure) -> Node.Content {
        switch json {
        case .null: return .none
        case .string(let text): return .text(text)
        case .array(let elements):
            var children: [Node] = []
            for (index, element) in elements.enumerated() {
                children.append(try node(from: element, path: "\(path)[\(index)]"))
            }
            return .nodes(children)
        case .object(let members):
            if members.count == 1, let hexJSON = members["bytes_hex"] {
                guard case .string(let hex) = hexJSON else { throw .badInput("\(path).bytes_hex: must be a string") }
                do { return .bytes(try HexText.bytes(Array(hex.utf8))) } catch { throw .badInput("\(path).bytes_hex: \(error.message)") }
            }
            return .jid(try jid(from: json, path: path))
        default:
            throw .badInput("\(path): content must be null, an array of nodes, {\"bytes_hex\"}, a string or a JID, not \(json.typeName)")
        }
    }

    private static func jid(from json: JSONValue, path: String) throws(CommandFailure) -> JID {
        guard case .object(let members) = json else { throw .badInput("\(path): a JID must be an object") }
        if members.count == 1, let textJSON = members["jid"] {
            guard case .string(let text) = textJSON else { throw .badInput("\(path).jid: must be a string") }
            do { return try JID(parsing: text) } catch { throw .badInput("\(path).jid: \(error)") }
        }
        var user = ""
        var server: String? = nil
        var agent: UInt8 = 0
        var device: UInt16 = 0
        var integrator: UInt16 = 0
        for (key, value) in members {
            switch key {
            case "user":
                guard case .string(let text) = value else { throw .badInput("\(path).user: must be a string") }
                user = text
            case "server":
                guard case .string(let text) = value, !text.isEmpty else { throw .badInput("\(path).server: must be a non-empty string") }
                server = text
            case "agent": agent = try integer(value, path: "\(path).agent")
            case "device": device = try integer(value, path: "\(path).device")
            case "integrator": integrator = try integer(value, path: "\(path).integrator")
            default:
                throw .badInput("\(path): unknown JID member \"\(key)\" (expected {\"jid\"} or user, server, agent, device, integrator)")
            }
        }
        guard let server else { throw .badInput("\(path): a JID object needs \"jid\" or \"server\"") }
        return JID(user: user, rawAgent: agent, device: device, integrator: integrator, server: JID.Server(server))
    }

    /// Only an integer literal: 1.0 or 1e0 is refused, as a count on the wire has no fraction.
    private static func integer<T: FixedWidthInteger>(_ json: JSONValue, path: String) throws(CommandFailure) -> T {
        guard case .int(let integer) = json, let value = T(exactly: integer) else {
            throw .badInput("\(path): must be an integer \(T.min)...\(T.max)")
        }
        return value
    }

    // MARK: Node → JSON

    static func json(from node: Node) -> JSONValue {
        var members: JSONObject = ["tag": .string(node.tag)]
        if !node.attributes.isEmpty { members["attrs"] = json(from: node.attributes) }
        switch node.content {
        case .none: members["content"] = .null
        case .nodes(let children): members["content"] = .array(children.map(json(from:)))
        case .bytes(let bytes): members["content"] = ["bytes_hex": .string(HexText.string(bytes))]
        case .text(let text): members["content"] = .string(text)
        case .jid(let jid): members["content"] = json(from: jid)
        }
        return .object(members)
    }

    /// An object in wire order, or [name, value] pairs when a name repeats: an object holds each
    /// name once, and a received node may carry one twice.
    static func json(from attributes: Attributes) -> JSONValue {
        func value(_ attribute: Attribute) -> JSONValue {
            switch attribute.value {
            case .text(let text): return .string(text)
            case .jid(let jid): return json(from: jid)
            }
        }
        var object = JSONObject()
        for attribute in attributes {
            guard object[attribute.name] == nil else {
                return .array(attributes.map { [.string($0.name), value($0)] })
            }
            object[attribute.name] = value(attribute)
        }
        return .object(object)
    }

    /// `{"jid": text}` when the text form reads back as the same JID, else the explicit form.
    static func json(from jid: JID) -> JSONValue {
        if jid.hasLosslessTextForm { return ["jid": .string(jid.description)] }
        var members: JSONObject = ["user": .string(jid.user), "server": .string(jid.server.rawValue)]
        if jid.rawAgent != 0 { members["agent"] = .int(Int64(jid.rawAgent)) }
        if jid.device != 0 { members["device"] = .int(Int64(jid.device)) }
        if jid.integrator != 0 { members["integrator"] = .int(Int64(jid.integrator)) }
        return .object(members)
    }
}
