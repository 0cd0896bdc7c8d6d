/// Linking by QR or pairing code, its status, and unlinking.
enum PairingMethods {
    static let all: [MethodDefinition] = [
        StartAuthMethod.definition.raising(.notConnected).summarized(
            "Link by QR code: shows rotating QR codes (this server's /qr page, pairing.qr events, and qr/qr_png_base64 here). "
                + "Returns the status; at once if already linked."),
        PairingCodeMethod.definition.bindings(positional: ["phone_number"]).raising(.pairingFailed, .timeout, .notConnected, .notOnWhatsApp)
            .summarized("Link without a QR code: returns an 8-character code (XXXX-XXXX) to enter on the phone of phone_number."),
        CancelAuthMethod.definition.summarized("Stop a linking attempt in progress (QR or pairing code); the state becomes stopped."),
        PairStatusMethod.definition.summarized("Linking progress: the status plus the current QR (text and PNG) or pairing code."),
        Logout.logoutDefinition.summarized("Unlink this device: keys and sessions are deleted, local history is kept."),
        Logout.unlinkDefinition.bindings(positional: ["clear_data"])
            .summarized("Unlink like whatsapp_logout; with clear_data true also delete the local history."),
    ]
}
