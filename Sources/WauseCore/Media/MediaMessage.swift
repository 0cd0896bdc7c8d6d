import FoundationEssentials
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport

/// What a media message says about its file, one shape for the five kinds of file message
/// (image, video, audio/ptt, document, sticker; fields per whatsmeow's proto WAE2E and
/// upload.go's example) and for locations and contact cards, which carry no file. Built from a
/// `MediaFile` for sending and read back from any received `Message` protobuf; the store keeps
/// it (Store+Media.swift) and results show it as `media`.
struct MediaMessage: Sendable, Equatable {
    /// `image`, `video`, `audio`, `ptt`, `document`, `sticker`, `location` or `vcard` (the
    /// message's `type` in results; issue 13 "Methods and events").
    var type: String
    var mimetype: String?
    var size: Int64?
    var sha256: [UInt8]?
    var encSha256: [UInt8]?
    var mediaKey: [UInt8]?
    var directPath: String?
    var url: String?
    var fileName: String?
    var caption: String?
    var width: Int?
    var height: Int?
    var seconds: Int?
    /// Locations: `lat,long` and name; contact cards: the display name (shown as `body`).
    var summary: String?
    /// A video that plays muted and loops, as WhatsApp shows GIFs (VideoMessage.gifPlayback; its
    /// `<enc mediatype>` is `gif`, its keys and path a video's).
    var gifPlayback = false

    /// Whether a file travels with it (to upload or download).
    var hasFile: Bool { !["location", "vcard"].contains(type) }

    /// The crypto type of the file: which HKDF info, mms-type and `<enc mediatype>` it goes by.
    var cryptoType: WauseProtocol.MediaType? {
        switch type {
        case "image": .image
        case "video": gifPlayback ? .gif : .video
        case "audio": .audio
        case "ptt": .ptt
        case "document": .document
        case "sticker": .sticker
        case "history": .history  // a history-sync blob (History/HistorySync.swift), never a message's
        // An app-state snapshot or patch blob (AppState/AppStateSync.swift), never a message's.
        case "app_state": .appState
        default: nil
        }
    }

    /// The crypto type of what the intake took in (`voice` is WhatsApp's `ptt`).
    static func cryptoType(_ type: MediaType) -> WauseProtocol.MediaType {
        switch type {
        case .image: .image
        case .video: .video
        case .audio: .audio
        case .voice: .ptt
        case .document: .document
        case .sticker: .sticker
        }
    }

    /// `media` of a message result (issue 13 "Definitions"), with `path` when the file is here.
    func json(path: String?) -> JSONValue {
        var object: JSONObject = ["type": .string(type)]
        if let mimetype { object["mimetype"] = .string(mimetype) }
        if let size { object["size"] = .int(size) }
        if let sha256 { object["sha256"] = .string(Hex.encode(sha256)) }
        if let fileName { object["file_name"] = .string(fileName) }
        if let caption { object["caption"] = .string(caption) }
        if let width { object["width"] = .int(Int64(width)) }
        if let height { object["height"] = .int(Int64(height)) }
        if let seconds { object["seconds"] = .int(Int64(seconds)) }
        if gifPlayback { object["gif_playback"] = .bool(true) }
        if let path { object["path"] = .string(path) }
        return .object(object)
    }

    /// The media a message carries, through the wrappers text reading also looks through; nil
    /// for text and for anything else.
    static func describe(_ message: WAWebProtobufsE2E_Message) -> MediaMessage? {
        let current = MessageFormat.unwrapped(message)
        func text(_ has: Bool, _ value: String) -> String? { has && !value.isEmpty ? value : nil }
        func bytes(_ has: Bool, _ value: Data) -> [UInt8]? { has ? [UInt8](value) : nil }
        if current.hasImageMessage {
            let m = current.imageMessage
            return MediaMessage(type: "image", mimetype: text(m.hasMimetype, m.mimetype), size: m.hasFileLength ? Int64(m.fileLength) : nil,
                                sha256: bytes(m.hasFileSha256, m.fileSha256), encSha256: bytes(m.hasFileEncSha256, m.fileEncSha256),
                                mediaKey: bytes(m.hasMediaKey, m.mediaKey), directPath: text(m.hasDirectPath, m.directPath),
                                url: text(m.hasURL, m.url), caption: text(m.hasCaption, m.caption),
                                width: m.hasWidth ? Int(m.width) : nil, height: m.hasHeight ? Int(m.height) : nil)
        }
        if current.hasVideoMessage {
            let m = current.videoMessage
            return MediaMessage(type: "video", mimetype: text(m.hasMimetype, m.mimetype), size: m.hasFileLength ? Int64(m.fileLength) : nil,
                                sha256: bytes(m.hasFileSha256, m.fileSha256), encSha256: bytes(m.hasFileEncSha256, m.fileEncSha256),
                                mediaKey: bytes(m.hasMediaKey, m.mediaKey), directPath: text(m.hasDirectPath, m.directPath),
                                url: text(m.hasURL, m.url), caption: text(m.hasCaption, m.caption),
                                width: m.hasWidth ? Int(m.width) : nil, height: m.hasHeight ? Int(m.height) : nil,
                                seconds: m.hasSeconds ? Int(m.seconds) : nil, gifPlayback: m.gifPlayback)
        }
        if current.hasAudioMessage {
            let m = current.audioMessage
            return MediaMessage(type: m.ptt ? "ptt" : "audio", mimetype: text(m.hasMimetype, m.mimetype),
                                size: m.hasFileLength ? Int64(m.fileLength) : nil,
                                sha256: bytes(m.hasFileSha256, m.fileSha256), encSha256: bytes(m.hasFileEncSha256, m.fileEncSha256),
                                mediaKey: bytes(m.hasMediaKey, m.mediaKey), directPath: text(m.hasDirectPath, m.directPath),
                                url: text(m.hasURL, m.url), seconds: m.hasSeconds ? Int(m.seconds) : nil)
        }
        if current.hasDocumentMessage {
            let m = current.documentMessage
            return MediaMessage(type: "document", mimetype: text(m.hasMimetype, m.mimetype), size: m.hasFileLength ? Int64(m.fileLength) : nil,
                                sha256: bytes(m.hasFileSha256, m.fileSha256), encSha256: bytes(m.hasFileEncSha256, m.fileEncSha256),
                                mediaKey: bytes(m.hasMediaKey, m.mediaKey), directPath: text(m.hasDirectPath, m.directPath),
                                url: text(m.hasURL, m.url), fileName: text(m.hasFileName, m.fileName) ?? text(m.hasTitle, m.title),
                                caption: text(m.hasCaption, m.caption))
        }
        if current.hasStickerMessage {
            let m = current.stickerMessage
            return MediaMessage(type: "sticker", mimetype: text(m.hasMimetype, m.mimetype), size: m.hasFileLength ? Int64(m.fileLength) : nil,
                                sha256: bytes(m.hasFileSha256, m.fileSha256), encSha256: bytes(m.hasFileEncSha256, m.fileEncSha256),
                                mediaKey: bytes(m.hasMediaKey, m.mediaKey), directPath: text(m.hasDirectPath, m.directPath),
                                url: text(m.hasURL, m.url), width: m.hasWidth ? Int(m.width) : nil, height: m.hasHeight ? Int(m.height) : nil)
        }
        if current.hasLocationMessage {
            let m = current.locationMessage
            let place = [text(m.hasName, m.name), text(m.hasAddress, m.address)].compactMap { $0 }.joined(separator: ", ")
            return MediaMessage(type: "location", summary: place.isEmpty ? "\(m.degreesLatitude),\(m.degreesLongitude)" : place)
        }
        if current.hasContactMessage {
            return MediaMessage(type: "vcard", summary: current.contactMessage.displayName)
        }
        if current.hasContactsArrayMessage {
            let m = current.contactsArrayMessage
            return MediaMessage(type: "vcard", summary: m.hasDisplayName ? m.displayName : m.contacts.map(\.displayName).joined(separator: ", "))
        }
        return nil
    }

    /// `body` of a media message: the caption for files (issue 13), the place or the name otherwise.
    var body: String { caption ?? summary ?? "" }

    // MARK: - Sending

    /// The message for a file the intake took in, before its upload: everything but `url` and
    /// `directPath`, which `uploaded(_:url:directPath:)` fills in (whatsmeow upload.go's example:
    /// the upload's URL, direct path, media key and hashes go into the message).
    static func outgoing(_ file: MediaFile, mediaKey: [UInt8], encryption: MediaEncryptionResult, caption: String?,
                         gifPlayback: Bool = false, now: UnixTime) -> WAWebProtobufsE2E_Message {
        var message = WAWebProtobufsE2E_Message()
        let timestamp = now.seconds
        switch file.mediaType {
        case .image:
            var m = WAWebProtobufsE2E_ImageMessage()
            m.mimetype = file.mimetype
            m.fileSha256 = Data(encryption.fileSha256); m.fileEncSha256 = Data(encryption.fileEncSha256)
            m.fileLength = encryption.fileLength; m.mediaKey = Data(mediaKey); m.mediaKeyTimestamp = timestamp
            if let caption { m.caption = caption }
            if let image = file.image {
                m.width = UInt32(image.width); m.height = UInt32(image.height)
                if !image.jpeg.isEmpty { m.jpegthumbnail = Data(image.jpeg) }
            }
            message.imageMessage = m
        case .video:
            var m = WAWebProtobufsE2E_VideoMessage()
            m.mimetype = file.mimetype
            m.fileSha256 = Data(encryption.fileSha256); m.fileEncSha256 = Data(encryption.fileEncSha256)
            m.fileLength = encryption.fileLength; m.mediaKey = Data(mediaKey); m.mediaKeyTimestamp = timestamp
            if let caption { m.caption = caption }
            if let seconds = file.seconds { m.seconds = UInt32(clamping: seconds) }
            if gifPlayback { m.gifPlayback = true }
            message.videoMessage = m
        case .audio, .voice:
            var m = WAWebProtobufsE2E_AudioMessage()
            m.mimetype = file.mediaType == .voice ? "audio/ogg; codecs=opus" : file.mimetype
            m.fileSha256 = Data(encryption.fileSha256); m.fileEncSha256 = Data(encryption.fileEncSha256)
            m.fileLength = encryption.fileLength; m.mediaKey = Data(mediaKey); m.mediaKeyTimestamp = timestamp
            m.ptt = file.mediaType == .voice
            if let seconds = file.seconds { m.seconds = UInt32(clamping: seconds) }
            if let voice = file.voice { m.waveform = Data(voice.waveform) }
            message.audioMessage = m
        case .document:
            var m = WAWebProtobufsE2E_DocumentMessage()
            m.mimetype = file.mimetype
            m.fileSha256 = Data(encryption.fileSha256); m.fileEncSha256 = Data(encryption.fileEncSha256)
            m.fileLength = encryption.fileLength; m.mediaKey = Data(mediaKey); m.mediaKeyTimestamp = timestamp
            m.fileName = file.fileName; m.title = file.fileName
            if let caption { m.caption = caption }
            message.documentMessage = m
        case .sticker:
            var m = WAWebProtobufsE2E_StickerMessage()
            m.mimetype = file.mimetype
            m.fileSha256 = Data(encryption.fileSha256); m.fileEncSha256 = Data(encryption.fileEncSha256)
            m.fileLength = encryption.fileLength; m.mediaKey = Data(mediaKey); m.mediaKeyTimestamp = timestamp
            if let image = file.image { m.width = UInt32(image.width); m.height = UInt32(image.height) }
            message.stickerMessage = m
        }
        return message
    }

    /// Whether a queued message still waits for its file's upload (no direct path yet).
    static func needsUpload(_ message: WAWebProtobufsE2E_Message) -> Bool {
        guard let media = describe(message), media.hasFile else { return false }
        return media.directPath == nil
    }

    /// The message with the upload's answer filled in.
    static func uploaded(_ message: WAWebProtobufsE2E_Message, url: String, directPath: String) -> WAWebProtobufsE2E_Message {
        var copy = message
        if copy.hasImageMessage { copy.imageMessage.url = url; copy.imageMessage.directPath = directPath }
        if copy.hasVideoMessage { copy.videoMessage.url = url; copy.videoMessage.directPath = directPath }
        if copy.hasAudioMessage { copy.audioMessage.url = url; copy.audioMessage.directPath = directPath }
        if copy.hasDocumentMessage { copy.documentMessage.url = url; copy.documentMessage.directPath = directPath }
        if copy.hasStickerMessage { copy.stickerMessage.url = url; copy.stickerMessage.directPath = directPath }
        return copy
    }

    /// The `<enc mediatype>` of a message (whatsmeow send.go getMediaTypeFromMessage), nil for text.
    static func encMediaType(_ message: WAWebProtobufsE2E_Message) -> String? {
        guard let media = describe(message) else { return nil }
        switch media.type {
        case "location": return "location"
        case "vcard": return message.hasContactsArrayMessage ? "contact_array" : "vcard"
        default: return media.cryptoType?.encMediaType
        }
    }
}
