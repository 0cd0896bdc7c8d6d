import WauseSupport
/// Hints about a method's effects (they become MCP tool annotations).
public struct MethodAnnotations: Sendable, Equatable {
    public var readOnly: Bool
    public var destructive: Bool
    public var idempotent: Bool
    /// Whether the method reaches outside this machine (WhatsApp's servers, other people).
    public var openWorld: Bool

    public static let readOnlyLocal = MethodAnnotations(readOnly: true, destructive: false, idempotent: true, openWorld: false)

    public var json: JSONValue {
        ["read_only": .bool(readOnly), "destructive": .bool(destructive), "idempotent": .bool(idempotent), "open_world": .bool(openWorld)]
    }
}

/// One row of the method catalogue. Handlers receive arguments already checked against
/// `inputSchema` (with defaults filled in) and must return an object that satisfies
/// `outputSchema`.
public struct MethodDefinition: Sendable {
    public typealias Handler = @Sendable (MethodContext, JSONObject) async throws(WauseError) -> JSONObject

    public let name: String
    public let title: String
    public let description: String
    public let inputSchema: JSONValue
    public let outputSchema: JSONValue
    public let annotations: MethodAnnotations
    public let handler: Handler
    /// How the Python and Node bindings take the arguments: these positionally, in this order, the
    /// others by name (set with `bindings(positional:omitting:)`; scripts/gen-bindings.py reads it).
    public private(set) var positional: [String] = []
    /// Arguments the bindings leave out (an alias another argument already covers).
    public private(set) var bindingsOmit: [String] = []
    /// The error codes the method reports besides invalid_request and internal, which any method
    /// may (set with `raising(_:)`; docs/tools.md and the bindings' docs list them).
    public private(set) var errors: [WauseError.Code] = []
    /// The toolset that enables the method on MCP (`Toolsets`; issue 11): `core` unless an area's
    /// method list says otherwise with `inToolset(_:)`. The contract tools are in every toolset.
    public private(set) var toolset: String = Toolsets.core
    /// The one- or two-sentence form of `description` that `tools/list` shows (set with
    /// `summarized(_:)`); `whatsapp_get_tool_info` gives the long form. Nil: the description itself.
    public private(set) var summary: String?

    public init(name: String, title: String, description: String, inputSchema: JSONValue, outputSchema: JSONValue,
                annotations: MethodAnnotations, handler: @escaping Handler) {
        self.name = name
        self.title = title
        self.description = description
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.annotations = annotations
        self.handler = handler
    }

    public var json: JSONValue {
        [
            "name": .string(name), "title": .string(title), "description": .string(description),
            "input_schema": inputSchema, "output_schema": outputSchema, "annotations": annotations.json,
            "positional": .array(positional.map { .string($0) }), "bindings_omit": .array(bindingsOmit.map { .string($0) }),
            "errors": .array(errors.map { .string($0.rawValue) }),
            "toolset": .string(toolset), "summary": .string(shortDescription),
        ]
    }

    /// What `tools/list` shows: the summary, or the description when there is none.
    public var shortDescription: String { summary ?? description }

    /// This method with a short description for tool lists (see `summary`).
    public func summarized(_ text: String) -> MethodDefinition {
        var copy = self
        copy.summary = text
        return copy
    }

    /// This method in another toolset than `core` (see `toolset`); the name must be a known toolset.
    public func inToolset(_ name: String) -> MethodDefinition {
        precondition(Toolsets.known.contains(name) && name != Toolsets.all, "\(self.name): unknown toolset '\(name)'")
        var copy = self
        copy.toolset = name
        return copy
    }

    /// This method with the error codes it reports (see `errors`).
    public func raising(_ codes: WauseError.Code...) -> MethodDefinition {
        var copy = self
        copy.errors = codes
        return copy
    }

    /// This method with its binding signature (see `positional`); every name must be an argument.
    public func bindings(positional: [String], omitting omitted: [String] = []) -> MethodDefinition {
        let arguments = Set(inputSchema["properties"]?.objectValue?.keys ?? [])
        for argument in positional + omitted {
            precondition(arguments.contains(argument), "\(name): '\(argument)' is not an argument")
        }
        var copy = self
        copy.positional = positional
        copy.bindingsOmit = omitted
        return copy
    }
}

/// The one table of methods. The C API, the bindings and the MCP host all dispatch through it,
/// so a method exists everywhere or nowhere. Only methods that really work are registered; the
/// ones that need the WhatsApp connection join with the features that implement them.
public struct MethodCatalogue: Sendable {
    public let methods: [MethodDefinition]
    private let index: [String: Int]

    public init(_ methods: [MethodDefinition]) {
        self.methods = methods
        var index: [String: Int] = [:]
        for (offset, method) in methods.enumerated() {
            precondition(index[method.name] == nil, "duplicate method \(method.name)")
            index[method.name] = offset
        }
        self.index = index
    }

    /// Every area's methods, in the order `tools/list` shows them.
    public static let standard = MethodCatalogue(
        EngineMethods.all + PairingMethods.all + HistoryMethods.all + MessagingMethods.all + GroupMethods.all + MediaMethods.all
            + ApprovalMethods.all + ContactMethods.all + AppStateMethods.all + WebhookMethods.all + AccountMethods.all
    )

    /// Checks a handler's result against the method's output schema: the promise every surface
    /// (MCP `structuredContent`, which SDKs validate — MCP 2025-11-25 server/tools.mdx "Output
    /// Schema") makes. A mismatch is an `internal` error naming the path, since it is our bug.
    public static func checkResult(_ result: JSONObject, of method: MethodDefinition) throws(WauseError) {
        do {
            try Schema.validate(.object(result), against: method.outputSchema)
        } catch {
            throw WauseError(.internal, "\(method.name) returned a result that does not match its output schema: \(error.message)",
                             details: ["method": .string(method.name), "path": error.details?["path"] ?? .null])
        }
    }

    public func method(named name: String) -> MethodDefinition? { index[name].map { methods[$0] } }

    public var json: JSONValue {
        ["methods": .array(methods.map(\.json)), "errors": .array(WauseError.Code.allCases.map(\.json)),
         "events": .array(EventName.allCases.map(\.json)),
         "config": .array(ClientConfig.keys.map { ["key": .string($0.name), "summary": .string($0.help)] })]
    }

    /// Looks the method up and validates the arguments; the errors are the ones every surface shows.
    public func prepare(_ name: String, _ arguments: JSONValue) throws(WauseError) -> (MethodDefinition, JSONObject) {
        guard let method = method(named: name) else {
            throw .invalidRequest("unknown method '\(name)'; available: \(methods.map(\.name).joined(separator: ", "))",
                                  details: ["method": .string(name)])
        }
        let object: JSONObject
        switch arguments {
        case .null: object = JSONObject()
        case .object(let given):
            object = try Schema.foldChatAlias(Schema.coerceNumericStrings(given, from: method.inputSchema), from: method.inputSchema)
        default: throw .invalidRequest("arguments must be a JSON object, got \(arguments.typeName)")
        }
        try Schema.validate(.object(object), against: method.inputSchema)
        return (method, Schema.applyDefaults(object, from: method.inputSchema))
    }
}
