/// Linking by QR or pairing code, its status, and unlinking.
enum PairingMethods {
    static let all: [MethodDefinition] = [
        StartAuthMethod.definition.raising(.notConnected),
        PairingCodeMethod.definition.bindings(positional: ["phone_number"]).raising(.pairingFailed, .timeout, .notConnected, .notOnWhatsApp),
        CancelAuthMethod.definition,
        PairStatusMethod.definition,
        Logout.logoutDefinition,
        Logout.unlinkDefinition.bindings(positional: ["clear_data"]),
    ]
}
