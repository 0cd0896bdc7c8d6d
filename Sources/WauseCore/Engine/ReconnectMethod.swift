import WauseSupport
/// `whatsapp_reconnect` (DESIGN.md account methods; issue 14): drops the connection and dials again
/// now, instead of waiting out the backoff after a network change or a stuck link. Answers once
/// logged in again (the status object), or with the reason it could not: the engine is not linked,
/// the server refused the login (logged out, client outdated), or no login within `timeout`.
enum ReconnectMethod {
    static let definition = MethodDefinition(
        name: "whatsapp_reconnect",
        title: "Reconnect to WhatsApp now",
        description: """
            Drop the WhatsApp connection and dial again at once (skipping any reconnect backoff), then wait until logged \
            in. Returns the status object with state ready. Errors: whatsapp_not_paired when this device is not linked, \
            logged_out or client_outdated when the server refuses the login, timeout (details.state, details.last_error) \
            when it is not logged in within timeout seconds — it keeps retrying in the background then. Messages queued \
            meanwhile stay queued and go once logged in.
            """,
        inputSchema: Schema.object([
            ("timeout", Schema.integer("seconds to wait for the login (5–120)", minimum: 5, maximum: 120, defaultValue: 30)),
        ]),
        outputSchema: StatusMethod.outputSchema,
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            guard try context.store.linkedAccount() != nil else {
                throw WauseError(.whatsappNotPaired, "this device is not linked; link it with whatsapp_start_auth or whatsapp_pairing_code")
            }
            await context.connectionLoop.stopAndWait()
            context.connectionLoop.startLogin()
            let deadline = Duration.seconds(arguments["timeout"]?.intValue ?? 30)
            let outcome: ConnectionState? = await withTaskGroup(of: ConnectionState?.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        let (state, version) = context.status.versioned()
                        switch state {
                        case .ready, .loggedOut, .clientOutdated, .authFailure, .stopped: return state
                        default: break
                        }
                        if context.status.isClosed { return nil }
                        await context.status.waitForTransition(after: version)
                    }
                    return nil
                }
                group.addTask {
                    try? await context.environment.sleep(deadline)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            let (state, lastError) = context.status.snapshot()
            let details: JSONObject = ["state": .string(state.rawValue), "last_error": JSONValue(lastError)]
            switch outcome {
            case .ready?: return try context.statusObject()
            case .loggedOut?: throw WauseError(.loggedOut, "the server logged this device out: \(lastError ?? "no reason given")", details: details)
            case .clientOutdated?: throw WauseError(.clientOutdated, "the server refused this client version", details: details)
            case .some: throw WauseError(.notConnected, "the login failed: \(lastError ?? state.rawValue)", details: details)
            case nil:
                throw WauseError(.timeout, "not logged in again within \(deadline.wholeSeconds) s (state \(state.rawValue)); still retrying",
                                 details: details)
            }
        }
    )
}
