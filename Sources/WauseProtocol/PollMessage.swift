import FoundationEssentials
import SwiftProtobuf
import WauseBinary
import WauseProto
import WauseSupport

/// Poll messages as both sides build and read them (whatsmeow msgsecret.go `BuildPollCreation`,
/// `BuildPollVote`, `EncryptPollVote`; Baileys src/Utils/messages.ts sends a single-answer poll as
/// `pollCreationMessageV3`). The `<message>` is `type="poll"` with `<meta polltype="creation"|"vote">`
/// (whatsmeow send.go), a vote's `<enc>` `decrypt-fail="hide"`.
public enum PollMessage {
    public struct Creation: Sendable, Equatable {
        public var question: String
        public var options: [String]
        /// 0: any number of options; 1: one.
        public var selectableCount: Int
        public var secret: [UInt8]

        public init(question: String, options: [String], selectableCount: Int, secret: [UInt8]) {
            self.question = question
            self.options = options
            self.selectableCount = selectableCount
            self.secret = secret
        }

        /// The message: v3 for a single answer, v1 otherwise, with the secret in `messageContextInfo`.
        public var message: WAWebProtobufsE2E_Message {
            var poll = WAWebProtobufsE2E_PollCreationMessage()
            poll.name = question
            poll.options = options.map { name in
                var option = WAWebProtobufsE2E_PollCreationMessage.Option()
                option.optionName = name
                return option
            }
            poll.selectableOptionsCount = UInt32(selectableCount)
            var message = WAWebProtobufsE2E_Message()
            if selectableCount == 1 { message.pollCreationMessageV3 = poll } else { message.pollCreationMessage = poll }
            message.messageContextInfo.messageSecret = Data(secret)
            return message
        }

        /// The poll a message carries (v1, v2 or v3, after a device-sent copy's wrapper); nil for others.
        public init?(_ message: WAWebProtobufsE2E_Message) {
            let current = message.hasDeviceSentMessage ? message.deviceSentMessage.message : message
            let poll: WAWebProtobufsE2E_PollCreationMessage
            if current.hasPollCreationMessage { poll = current.pollCreationMessage }
            else if current.hasPollCreationMessageV3 { poll = current.pollCreationMessageV3 }
            else if current.hasPollCreationMessageV2 { poll = current.pollCreationMessageV2 }
            else { return nil }
            // The secret travels in the outer message's context info (a device-sent copy keeps the original's).
            let info = message.hasMessageContextInfo ? message.messageContextInfo : current.messageContextInfo
            self.init(question: poll.name, options: poll.options.map(\.optionName), selectableCount: Int(poll.selectableOptionsCount),
                      secret: Array(info.messageSecret))
        }
    }

    public struct Vote: Sendable, Equatable {
        /// The poll voted in, as the voter names it.
        public var poll: MessageChange.Target
        public var payload: [UInt8]
        public var iv: [UInt8]
        public var at: Int64

        public init(poll: MessageChange.Target, payload: [UInt8], iv: [UInt8], at: Int64) {
            self.poll = poll
            self.payload = payload
            self.iv = iv
            self.at = at
        }

        /// Seals the chosen options' names (`PollVoteCrypto`); an empty list withdraws the vote.
        public static func sealing(_ optionNames: [String], poll: MessageChange.Target, secret: [UInt8], pollCreator: String, voter: String,
                                   iv: [UInt8], at: Int64) throws(WauseError) -> Vote {
            var vote = WAWebProtobufsE2E_PollVoteMessage()
            vote.selectedOptions = optionNames.map { Data(PollVoteCrypto.optionHash($0)) }
            let plaintext: [UInt8]
            do { plaintext = try vote.serializedBytes() } catch { throw .internal("cannot encode the poll vote: \(error)") }
            let payload = try PollVoteCrypto.seal(plaintext, iv: iv, secret: secret, pollID: poll.id, pollCreator: pollCreator, voter: voter)
            return Vote(poll: poll, payload: payload, iv: iv, at: at)
        }

        public var message: WAWebProtobufsE2E_Message {
            var update = WAWebProtobufsE2E_PollUpdateMessage()
            update.pollCreationMessageKey = poll.key
            update.vote.encPayload = Data(payload)
            update.vote.encIv = Data(iv)
            update.senderTimestampMs = at
            var message = WAWebProtobufsE2E_Message()
            message.pollUpdateMessage = update
            return message
        }

        public init?(_ message: WAWebProtobufsE2E_Message) {
            let current = message.hasDeviceSentMessage ? message.deviceSentMessage.message : message
            guard current.hasPollUpdateMessage, current.pollUpdateMessage.hasPollCreationMessageKey else { return nil }
            let update = current.pollUpdateMessage
            self.init(poll: MessageChange.Target(update.pollCreationMessageKey), payload: Array(update.vote.encPayload),
                      iv: Array(update.vote.encIv), at: update.senderTimestampMs)
        }

        /// The option hashes of a decrypted vote, nil when the plaintext is no `PollVoteMessage`.
        public static func selectedHashes(_ plaintext: [UInt8]) -> [[UInt8]]? {
            (try? WAWebProtobufsE2E_PollVoteMessage(serializedBytes: plaintext)).map { $0.selectedOptions.map { Array($0) } }
        }
    }

    /// The `<meta polltype>` of a message, nil for one that is no poll.
    public static func pollType(of message: WAWebProtobufsE2E_Message) -> String? {
        if Vote(message) != nil { return "vote" }
        if Creation(message) != nil { return "creation" }
        return nil
    }
}
