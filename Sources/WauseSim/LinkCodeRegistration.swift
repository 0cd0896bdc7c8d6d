import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSupport

/// The server's half of pairing-code linking (whatsmeow pair-code.go PairPhone): a registering companion
/// asks for a code to be entered on the phone of `jid` with
///
///     <iq xmlns="md" type="set" to="s.whatsapp.net" id=…>
///       <link_code_companion_reg jid="<digits>@s.whatsapp.net" stage="companion_hello"
///                                should_show_push_notification="true|false">
///         <link_code_pairing_wrapped_companion_ephemeral_pub>80 bytes</…>
///         <companion_server_auth_key_pub>the connection's Noise key</…>
///         <companion_platform_id>"1".."9"|"c"|"e"</…>
///         <companion_platform_display>"Browser (OS)"</…>
///         <link_code_pairing_nonce>0x00 (whatsmeow) or "0" (Baileys)</…>
///
/// and gets `<iq type=result><link_code_companion_reg><link_code_pairing_ref>REF</…></…></iq>`.
/// The phone side (`PhoneLinking.enterCode`) takes it from there. `companion_finish` (whatsmeow pair-code.go handleCodePairNotification) is
/// delivered to the waiting phone by `PairingConnection.deliver`; one that nobody waits for (no
/// code was entered, or its ref is unknown) reaches here and is refused.
extension ChatEndpoint {
    func linkCodeRegistration(_ iq: Node, id: String, pairing: PairingConnection?) -> Node {
        guard let request = iq.child("link_code_companion_reg") else { return ChatEndpoint.error(id, code: 400, text: "bad-request") }
        // Only an unlinked companion on its registration connection links by code.
        guard let pairing else { return ChatEndpoint.error(id, code: 400, text: "bad-request") }
        switch request[attribute: "stage"] {
        case "companion_hello":
            switch companionHello(request, pairing: pairing) {
            case .success(let ref):
                return ChatEndpoint.result(id, [Node(tag: "link_code_companion_reg",
                                                     children: [Node(tag: "link_code_pairing_ref", bytes: Array(ref.utf8))])])
            case .failure(let refusal):
                logger.info("connection \(pairing.connectionID): companion_hello refused: \(refusal.reason)")
                return ChatEndpoint.error(id, code: refusal.code, text: refusal.text)
            }
        case "companion_finish":
            // No phone is waiting for this ref (no code entered yet, or another attempt's ref).
            return ChatEndpoint.error(id, code: 404, text: "item-not-found")
        default:
            return ChatEndpoint.error(id, code: 400, text: "bad-request")
        }
    }

    struct Refusal: Error {
        let code: Int
        let text: String
        let reason: String
    }

    /// Checks a companion_hello and records it on the connection; answers the new pairing ref.
    private func companionHello(_ request: Node, pairing: PairingConnection) -> Result<String, Refusal> {
        func bad(_ reason: String) -> Result<String, Refusal> { .failure(Refusal(code: 400, text: "bad-request", reason: reason)) }
        // whatsmeow sends a typed JID; a string attribute of the same text is accepted too.
        let jidText = request.jid("jid").map { $0.server == .whatsApp && $0.device == 0 ? $0.user : "" }
            ?? request[attribute: "jid"].flatMap { text in text.hasSuffix("@s.whatsapp.net") ? String(text.dropLast(15)) : nil }
        guard let user = jidText, !user.isEmpty, user.allSatisfy(\.isASCIIDigit), let phone = try? PhoneNumber.normalize(user) else {
            return bad("jid must be <digits>@s.whatsapp.net")
        }
        guard let wrapped = request.child("link_code_pairing_wrapped_companion_ephemeral_pub")?.bytes,
            wrapped.count == LinkCodeCrypto.wrappedKeyLength
        else { return bad("the wrapped companion ephemeral key must be \(LinkCodeCrypto.wrappedKeyLength) bytes") }
        guard request.child("companion_server_auth_key_pub")?.bytes == pairing.registration.noisePublicKey else {
            return bad("companion_server_auth_key_pub is not this connection's Noise key")
        }
        guard let platformID = request.child("companion_platform_id")?.text, !platformID.isEmpty else {
            return bad("companion_platform_id is missing")
        }
        // whatsmeow's doc comment: the display must be "Browser (OS)", or the server answers 400.
        guard let display = request.child("companion_platform_display")?.text, display.contains(" ("), display.hasSuffix(")") else {
            return bad("companion_platform_display must read \"Browser (OS)\"")
        }
        // whatsmeow sends the single byte 0x00, Baileys the string "0" (whatsmeow pair-code.go PairPhone); both work for real.
        guard let nonce = request.child("link_code_pairing_nonce")?.bytes, nonce == [0] || nonce == Array("0".utf8) else {
            return bad("link_code_pairing_nonce must be 0x00 or \"0\"")
        }
        let account: SimAccount?
        do { account = try state.account(phone: phone) } catch {
            return .failure(Refusal(code: 500, text: "internal-error", reason: "\(error)"))
        }
        guard account != nil else {
            return .failure(Refusal(code: 404, text: "item-not-found", reason: "no account \(phone)"))
        }
        let ref = "3@" + Base64.encode(environment.randomBytes(24))
        pairing.setCodeRequest(PairingConnection.CodeRequest(phone: phone, wrappedEphemeralKey: wrapped, platformID: platformID,
                                                             platformDisplay: display, ref: ref, requestedAt: environment.now()))
        return .success(ref)
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
