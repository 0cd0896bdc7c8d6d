/// Linking by QR or pairing code, its status, and unlinking.
enum PairingMethods {
    static let all: [MethodDefinition] = [
        StartAuthMethod.definition,
        PairingCodeMethod.definition,
        PairStatusMethod.definition,
        Logout.logoutDefinition,
        Logout.unlinkDefinition,
    ]
}
