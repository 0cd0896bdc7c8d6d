import WauseSupport
/// Builders for the JSON Schemas the catalogue declares, and a validator for the subset they use
/// (type — including `["T","null"]` unions —, properties, required, additionalProperties, items,
/// enum, minimum/maximum, minLength/maxLength). The same schema that MCP clients see is the one
/// every call is checked against, so the two cannot drift apart.
public enum Schema {
    public static func object(_ properties: [(String, JSONValue)], required: [String] = [],
                              additionalProperties: Bool = false, description: String? = nil) -> JSONValue {
        var props = JSONObject()
        for (name, schema) in properties { props[name] = schema }
        var schema: JSONObject = ["type": "object", "properties": .object(props)]
        if !required.isEmpty { schema["required"] = .array(required.map { .string($0) }) }
        schema["additionalProperties"] = .bool(additionalProperties)
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }

    public static func string(_ description: String? = nil, minLength: Int? = nil, enumeration: [String]? = nil,
                              nullable: Bool = false) -> JSONValue {
        var schema = base("string", description, nullable)
        if let minLength { schema["minLength"] = .int(Int64(minLength)) }
        if let enumeration {
            schema["enum"] = .array(enumeration.map { .string($0) } + (nullable ? [.null] : []))
        }
        return .object(schema)
    }

    public static func integer(_ description: String? = nil, minimum: Int64? = nil, maximum: Int64? = nil,
                               defaultValue: Int64? = nil, nullable: Bool = false) -> JSONValue {
        var schema = base("integer", description, nullable)
        if let minimum { schema["minimum"] = .int(minimum) }
        if let maximum { schema["maximum"] = .int(maximum) }
        if let defaultValue { schema["default"] = .int(defaultValue) }
        return .object(schema)
    }

    public static func boolean(_ description: String? = nil, defaultValue: Bool? = nil) -> JSONValue {
        var schema = base("boolean", description, false)
        if let defaultValue { schema["default"] = .bool(defaultValue) }
        return .object(schema)
    }

    public static func array(of items: JSONValue, _ description: String? = nil) -> JSONValue {
        var schema = base("array", description, false)
        schema["items"] = items
        return .object(schema)
    }

    /// Makes an object schema nullable: `"type": ["object", "null"]`.
    public static func nullable(_ schema: JSONValue) -> JSONValue {
        guard var object = schema.objectValue, let type = object["type"]?.stringValue else { return schema }
        object["type"] = [.string(type), "null"]
        return .object(object)
    }

    private static func base(_ type: String, _ description: String?, _ nullable: Bool) -> JSONObject {
        var schema: JSONObject = ["type": nullable ? [.string(type), "null"] : .string(type)]
        if let description { schema["description"] = .string(description) }
        return schema
    }

    /// What `tools/list` shows as a tool's output schema (issue 11: the full ones were most of a
    /// 24 KB list): the top-level fields with their types and `required` (not `additionalProperties`),
    /// no descriptions (JSON Schema 2020-12 Validation §9: annotations, not constraints), and every
    /// nested object reduced to its type (`{"type": ["object", "null"]}`; an array of objects to
    /// `{"type": "array", "items": {"type": "object"}}`). Still a real schema: it only drops
    /// constraints, so every value valid against the full schema is valid against it (the engine's
    /// debug builds check each result against the full one). `whatsapp_get_tool_info` gives the
    /// full form.
    public static func compact(_ schema: JSONValue) -> JSONValue { compact(schema, nested: false) }

    private static func compact(_ schema: JSONValue, nested: Bool) -> JSONValue {
        guard var object = schema.objectValue else { return schema }
        let types = object["type"]?.arrayValue?.compactMap(\.stringValue) ?? [object["type"]?.stringValue].compactMap { $0 }
        if nested && types.contains("object"), let type = object["type"] { return ["type": type] }
        object["description"] = nil
        // A result is checked against the full schema by the engine itself; the listed form lets
        // clients read the fields, and closing the object adds nothing they need (27 bytes a tool).
        object["additionalProperties"] = nil
        if let properties = object["properties"]?.objectValue {
            var compacted = JSONObject()
            for (name, property) in properties { compacted[name] = compact(property, nested: true) }
            object["properties"] = .object(compacted)
        }
        if let items = object["items"] { object["items"] = compact(items, nested: true) }
        return .object(object)
    }

    // MARK: Validation

    /// Checks `value` against `schema`; the first violation becomes an `invalid_request` whose
    /// details name the offending path (`$.limit`) and what was expected.
    public static func validate(_ value: JSONValue, against schema: JSONValue, path: String = "$") throws(WauseError) {
        guard let schema = schema.objectValue else { return }
        func fail(_ message: String) -> WauseError {
            .invalidRequest(path == "$" ? message : "\(path.dropFirst(2)): \(message)", details: ["path": .string(path)])
        }
        if let type = schema["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue].compactMap { $0 }
            let matches = allowed.contains { name in
                switch (name, value) {
                case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
                     ("integer", .int), ("number", .int), ("number", .double): return true
                case ("integer", .double(let d)): return d.rounded() == d
                default: return false
                }
            }
            if !matches {
                throw fail("expected \(allowed.joined(separator: " or ")), got \(value.typeName)")
            }
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            throw fail("must be one of \(options.map(\.serialized).joined(separator: ", "))")
        }
        switch value {
        case .int, .double:
            let number: Double = { if case .int(let i) = value { return Double(i) }; if case .double(let d) = value { return d }; return 0 }()
            if let minimum = schema["minimum"]?.intValue, number < Double(minimum) { throw fail("must be at least \(minimum)") }
            if let maximum = schema["maximum"]?.intValue, number > Double(maximum) { throw fail("must be at most \(maximum)") }
        case .string(let text):
            if let minLength = schema["minLength"]?.intValue, text.count < minLength {
                throw fail(minLength == 1 ? "must not be empty" : "must be at least \(minLength) characters")
            }
            if let maxLength = schema["maxLength"]?.intValue, text.count > maxLength { throw fail("must be at most \(maxLength) characters") }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { try validate(item, against: itemSchema, path: "\(path)[\(index)]") }
            }
        case .object(let object):
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                throw WauseError.invalidRequest("missing required argument '\(name)'", details: ["path": .string("\(path).\(name)")])
            }
            for (key, item) in object {
                if let propertySchema = properties[key] {
                    try validate(item, against: propertySchema, path: "\(path).\(key)")
                } else if schema["additionalProperties"]?.boolValue == false {
                    let known = properties.keys
                    throw WauseError.invalidRequest(
                        "unknown argument '\(key)'" + (known.isEmpty ? "; this method takes no arguments" : "; expected \(known.joined(separator: ", "))"),
                        details: ["path": .string("\(path).\(key)")])
                }
            }
        case .null, .bool: break
        }
    }

    /// Top-level arguments whose schema says integer (and not string) given as a string of
    /// digits, optionally with a leading '-', become that integer: language models often send
    /// `"limit": "5"`, and the Python MCP SDK's own servers accept it (pydantic's lax mode
    /// converts numeric strings; issue 11). Booleans stay strict; anything else is left for
    /// `validate` to refuse.
    public static func coerceNumericStrings(_ arguments: JSONObject, from schema: JSONValue) -> JSONObject {
        var result = arguments
        let properties = schema["properties"]?.objectValue ?? JSONObject()
        for (name, value) in arguments {
            guard case .string(let text) = value, let type = properties[name]?["type"] else { continue }
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue].compactMap { $0 }
            guard allowed.contains("integer"), !allowed.contains("string") else { continue }
            let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int64(text) else { continue }
            result[name] = .int(number)
        }
        return result
    }

    /// One rule for naming the chat (issue 11): `to` on tools that send, `chat` on tools that
    /// read or act on a chat, each accepting the other. The alias is folded into the name the
    /// method's schema declares (`chat` when it declares both), so a contract tool keeps its
    /// schema and still takes the other name; both given and different is `invalid_request`.
    public static func foldChatAlias(_ arguments: JSONObject, from schema: JSONValue) throws(WauseError) -> JSONObject {
        let properties = schema["properties"]?.objectValue ?? JSONObject()
        let canonical: String
        if properties["chat"] != nil { canonical = "chat" } else if properties["to"] != nil { canonical = "to" } else { return arguments }
        let alias = canonical == "chat" ? "to" : "chat"
        guard let aliased = arguments[alias] else { return arguments }
        var result = arguments
        if let given = arguments[canonical], given != aliased {
            throw WauseError.invalidRequest("give \(canonical) or \(alias), not both with different values",
                                            details: ["path": .string("$.\(alias)")])
        }
        result[canonical] = aliased
        result[alias] = nil
        return result
    }

    /// Fills in `default` values of top-level properties that were not given.
    public static func applyDefaults(_ arguments: JSONObject, from schema: JSONValue) -> JSONObject {
        var result = arguments
        for (name, property) in schema["properties"]?.objectValue ?? JSONObject() where result[name] == nil {
            if let value = property["default"] { result[name] = value }
        }
        return result
    }
}
