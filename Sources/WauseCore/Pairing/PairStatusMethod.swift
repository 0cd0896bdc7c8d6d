import WauseSupport
/// `whatsapp_pair_status`: the status object plus whatever a person needs to link right now — the
/// QR string with its PNG (base64; MCP hosts add it as an image content block) or the pairing code.
/// `whatsapp_start_auth` returns the same fields, so one call can show the code.
public enum PairStatusMethod {
    static let pairingProperties: [(String, JSONValue)] = [
        ("qr", Schema.string("the pairing QR text (https://wa.me/settings/linked_devices#…) while state is qr", nullable: true)),
        ("qr_png_base64", Schema.string("the same QR as a PNG image, base64", nullable: true)),
        ("pairing_code", Schema.string("the pairing code (XXXX-XXXX) while state is pairing_code", nullable: true)),
    ]

    /// The status object's schema with the pairing fields added.
    public static let outputSchema = Schema.object(StatusMethod.properties + pairingProperties,
                                                   required: StatusMethod.required + pairingProperties.map(\.0))

    public static let definition = MethodDefinition(
        name: "whatsapp_pair_status",
        title: "WhatsApp linking status",
        description: """
            Report the linking progress: the status object plus, while a QR code is up, its text and a PNG (also shown as \
            an image), or, while a pairing code waits to be entered, the code. Reads local state only; never dials.
            """,
        inputSchema: Schema.object([]),
        outputSchema: outputSchema,
        annotations: .readOnlyLocal,
        handler: { context, _ throws(WauseError) in try context.pairStatusObject() }
    )
}

extension MethodContext {
    func pairStatusObject() throws(WauseError) -> JSONObject {
        var object = try statusObject()
        let qr = status.pairingQR
        object["qr"] = JSONValue(qr)
        object["qr_png_base64"] = try qr.map { qr throws(WauseError) in .string(Base64.encode(try QRCode(encoding: qr).png(scale: 6))) } ?? .null
        object["pairing_code"] = JSONValue(status.pairingCode)
        return object
    }
}
