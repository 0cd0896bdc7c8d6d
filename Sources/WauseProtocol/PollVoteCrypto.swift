import WauseCrypto
import WauseSupport

/// The poll-vote encryption both sides use (whatsmeow msgsecret.go `generateMsgSecretKey`,
/// `encryptMsgSecret`, `decryptMsgSecret`; `HashPollOptions`): a vote is a `PollVoteMessage`
/// listing SHA-256 of each chosen option's name, sealed with AES-256-GCM under
///
///     key = HKDF-SHA256(ikm: the poll's 32-byte messageSecret, salt: none,
///                       info: pollID ‖ pollCreator ‖ voter ‖ "Poll Vote", 32 bytes)
///     additional data = pollID ‖ 0x00 ‖ voter
///
/// where `pollCreator` and `voter` are user JIDs without a device part (`123@s.whatsapp.net` or
/// `456@lid`), and the IV is 12 random bytes. The same person may be named by phone number or LID,
/// so a receiver tries each form it knows (`open(candidates:)`), as whatsmeow tries the sender in
/// the key and the one it stored.
public enum PollVoteCrypto {
    public static let useCase = "Poll Vote"
    public static let secretLength = 32

    /// SHA-256 of the option's name: what a vote carries for each chosen option.
    public static func optionHash(_ name: String) -> [UInt8] { Hash.sha256(Array(name.utf8)) }

    public static func key(secret: [UInt8], pollID: String, pollCreator: String, voter: String) throws(WauseError) -> (key: [UInt8], additionalData: [UInt8]) {
        let info = Array(pollID.utf8) + Array(pollCreator.utf8) + Array(voter.utf8) + Array(useCase.utf8)
        let key: [UInt8]
        do { key = try HKDF.sha256(inputKeyMaterial: secret, info: info, outputByteCount: 32) } catch {
            throw WauseError(.internal, "HKDF failed: \(error)")
        }
        return (key, Array(pollID.utf8) + [0] + Array(voter.utf8))
    }

    /// `encPayload` (ciphertext ‖ 16-byte tag) for a serialized `PollVoteMessage`.
    public static func seal(_ plaintext: [UInt8], iv: [UInt8], secret: [UInt8], pollID: String, pollCreator: String,
                            voter: String) throws(WauseError) -> [UInt8] {
        let (key, additionalData) = try key(secret: secret, pollID: pollID, pollCreator: pollCreator, voter: voter)
        do { return try AESGCM.seal(plaintext: plaintext, key: key, nonce: iv, additionalData: additionalData) } catch {
            throw WauseError(.invalidRequest, "cannot seal the poll vote: \(error)")
        }
    }

    /// The serialized `PollVoteMessage`, trying every (creator, voter) naming pair until one
    /// authenticates; nil when none does (a vote for another poll, or a tampered one).
    public static func open(_ payload: [UInt8], iv: [UInt8], secret: [UInt8], pollID: String, creators: [String],
                            voters: [String]) -> [UInt8]? {
        for creator in creators {
            for voter in voters {
                guard let (key, additionalData) = try? key(secret: secret, pollID: pollID, pollCreator: creator, voter: voter) else { continue }
                if let plaintext = try? AESGCM.open(ciphertextAndTag: payload, key: key, nonce: iv, additionalData: additionalData) {
                    return plaintext
                }
            }
        }
        return nil
    }
}
