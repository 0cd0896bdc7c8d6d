import WauseSupport
/// `whatsapp_cancel_auth` (issue 11, DESIGN.md milestone 2): stops a linking attempt in progress
/// (QR or pairing code) — the linking connection closes, the QR and code are taken down, and the
/// state becomes `stopped`. A linked device is left alone (whatsapp_logout unlinks it).
public enum CancelAuthMethod {
    public static let definition = MethodDefinition(
        name: "whatsapp_cancel_auth",
        title: "Cancel linking WhatsApp",
        description: """
            Cancel linking in progress (started by whatsapp_start_auth or whatsapp_pairing_code): closes the linking \
            connection, takes the QR code or pairing code down and leaves the state stopped. cancelled is false when no \
            linking was in progress. A linked device stays linked (use whatsapp_logout to unlink).
            """,
        inputSchema: Schema.object([]),
        outputSchema: Schema.object([
            ("ok", Schema.boolean("the call succeeded")),
            ("cancelled", Schema.boolean("a linking attempt was in progress and is now stopped")),
        ], required: ["ok", "cancelled"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: false),
        handler: { context, _ throws(WauseError) in
            guard try context.store.linkedAccount() == nil else { return ["ok": true, "cancelled": false] }
            let cancelled = await context.connectionLoop.cancelLinking()
            // An unlinked device that is not linking rests in `stopped` (also after a failed or
            // cancelled attempt); a logged-out one keeps saying so until it links again.
            let (state, _) = context.status.snapshot()
            if cancelled || state == .authFailure || state == .starting || state == .qr || state == .pairingCode {
                context.status.clearPairing()
                context.status.transition(to: .stopped, lastError: .some(nil))
            }
            if cancelled { context.logger.info("linking cancelled") }
            return ["ok": true, "cancelled": .bool(cancelled)]
        }
    )
}
