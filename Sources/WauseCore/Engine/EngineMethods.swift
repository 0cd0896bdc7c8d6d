/// The engine's own methods (the status every surface starts from, and the long form of any
/// tool). Each area lists its methods in one place like this; `MethodCatalogue.standard`
/// concatenates the areas.
enum EngineMethods {
    static let all: [MethodDefinition] = [
        StatusMethod.definition.summarized(
            "Connection state (stopped, qr, pairing_code, ready, …), the linked account and local store counts. Never dials."),
        ToolInfoMethod.definition.bindings(positional: ["tool"]).raising(.notFound).summarized(
            "The long form of one tool: full description, input and output schemas, annotations, toolset, errors."),
        ReconnectMethod.definition.bindings(positional: []).raising(.whatsappNotPaired, .notConnected, .loggedOut, .clientOutdated, .timeout)
            // Not core: core's tools/list has a size budget, and the engine reconnects by itself; the account toolset holds
            // the connection and account controls beyond linking (DESIGN.md toolsets).
            .inToolset("accounts")
            .summarized("Drop the connection and dial again now; answers once logged in again (status object) or with why not."),
    ]
}
