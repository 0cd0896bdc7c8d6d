import WauseSupport
/// `whatsapp_start_auth` (seven-tool contract): starts QR linking unless the device is already
/// linked, and answers with the status object — once the first QR code is up (or linking failed,
/// or 15 s passed), so an agent can send the person to /qr straight away.
public enum StartAuthMethod {
    static let firstQRWait: Duration = .seconds(15)

    public static let definition = MethodDefinition(
        name: "whatsapp_start_auth",
        title: "Start linking WhatsApp (QR)",
        description: """
            Link this device to a WhatsApp account by QR code: connects to WhatsApp and shows a QR code on \
            this MCP server's /qr page (wause-mcp prints its URL at start; also in pairing.qr events) that the phone \
            scans under Settings → Linked devices. \
            Returns the status object (state "qr" and has_qr true once a code is up) with the QR text and a PNG of it \
            (qr, qr_png_base64). If already linked, returns the status at once; while linking is in progress, calling \
            again changes nothing. After a failure or a logout it starts over with new codes. A server that cannot be \
            reached fails the call at once with not_connected; whatsapp_cancel_auth stops linking.
            """,
        inputSchema: Schema.object([]),
        outputSchema: PairStatusMethod.outputSchema,
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: true),
        handler: { context, _ throws(WauseError) in
            if try context.store.linkedAccount() == nil {
                context.connectionLoop.startLinking()
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        while true {
                            let (state, version) = context.status.versioned()
                            guard state == .starting, context.connectionLoop.isRunning, !Task.isCancelled else { return }
                            await context.status.waitForTransition(after: version)
                        }
                    }
                    group.addTask { try? await context.environment.sleep(firstQRWait) }
                    await group.next()
                    group.cancelAll()
                }
                // The server did not answer at all: say so now rather than after the wait.
                if context.status.versioned().0 == .authFailure, let unreachable = context.connectionLoop.unreachableError { throw unreachable }
            }
            return try context.pairStatusObject()
        }
    )
}
