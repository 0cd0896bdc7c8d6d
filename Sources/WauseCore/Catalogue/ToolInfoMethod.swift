import WauseSupport
/// `whatsapp_get_tool_info {tool}`: the long form of one method — its full description, input and
/// output schemas (with every field's description), annotations, toolset and errors. `tools/list`
/// shows short summaries and compact output schemas to keep an agent's context small (issue 11);
/// this is where the agent reads the rest when it needs it.
enum ToolInfoMethod {
    static let definition = MethodDefinition(
        name: "whatsapp_get_tool_info",
        title: "Describe a WhatsApp tool",
        description: """
            The long form of one tool (any toolset, enabled or not): its full description, its input and output JSON \
            Schemas with every field described, its annotations, the toolset that enables it, and the error codes it \
            reports besides invalid_request and internal. Local only.
            """,
        inputSchema: Schema.object([("tool", Schema.string("the tool's name, e.g. whatsapp_send_message", minLength: 1))],
                                   required: ["tool"]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean()), ("name", Schema.string()), ("title", Schema.string()),
            ("toolset", Schema.string("the toolset that enables the tool (the contract tools are in every toolset)")),
            ("enabled", Schema.boolean("whether this client serves the tool now")),
            ("summary", Schema.string("the short description tools/list shows")),
            ("description", Schema.string("the full description")),
            ("input_schema", Schema.object([], additionalProperties: true, description: "the full input JSON Schema")),
            ("output_schema", Schema.object([], additionalProperties: true, description: "the full output JSON Schema")),
            ("annotations", Schema.object([
                ("read_only", Schema.boolean()), ("destructive", Schema.boolean()), ("idempotent", Schema.boolean()),
                ("open_world", Schema.boolean("reaches WhatsApp's servers or other people")),
            ], required: ["read_only", "destructive", "idempotent", "open_world"])),
            ("errors", Schema.array(of: Schema.string(), "error codes besides invalid_request and internal")),
        ], required: ["ok", "name", "title", "toolset", "enabled", "summary", "description", "input_schema", "output_schema",
                      "annotations", "errors"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            let name = arguments["tool"]?.stringValue ?? ""
            guard let method = context.catalogue.method(named: name) else {
                throw WauseError(.notFound, "no tool named '\(name)'; tools: \(context.catalogue.methods.map(\.name).joined(separator: ", "))",
                                 details: ["tool": .string(name)])
            }
            return [
                "ok": true, "name": .string(method.name), "title": .string(method.title), "toolset": .string(method.toolset),
                "enabled": .bool(context.config.toolsets.map { Toolsets.enables($0, method) } ?? true),
                "summary": .string(method.shortDescription), "description": .string(method.description),
                "input_schema": method.inputSchema, "output_schema": method.outputSchema, "annotations": method.annotations.json,
                "errors": .array(method.errors.map { .string($0.rawValue) }),
            ]
        }
    )
}
