import SwiftProtobuf
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Media as a virtual phone sends and receives it: the admin request's file encrypted the way
/// WhatsApp clients do (whatsmeow upload.go Upload, download.go getMediaKeys; Baileys
/// messages-media.ts encryptedStream), uploaded to the simulator's own store, and described in the
/// ImageMessage/VideoMessage/AudioMessage/DocumentMessage/StickerMessage it sends; on receipt the
/// blob is read back from the store, checked (encrypted hash, MAC, padding, plaintext hash, in
/// whatsmeow download.go validateMedia's order) and decrypted, and the inbox row gets the `media`
/// object with the SHA-256 of the verified plaintext.
///
/// A phone's media comes whole through the admin API (base64 in JSON), so sending encrypts in
/// memory; receiving streams from the blob's file (a client may send a large file), holding at
/// most one chunk.
struct PhoneMedia {
    /// The admin API's type names and what each maps to on the wire (tests/sim/README.md).
    enum Kind: String, CaseIterable, Sendable {
        case image, video, audio, ptt, document, sticker, location, vcard

        init?(admin name: String) {
            if name == "voice" { self = .ptt; return }
            if name == "contact" { self = .vcard; return }
            self.init(rawValue: name)
        }

        /// The media type whose keys and names the file uses (WauseProtocol.MediaType); nil for
        /// the kinds that carry no file.
        var mediaType: MediaType? {
            switch self {
            case .image: return .image
            case .sticker: return .sticker
            case .video: return .video
            case .audio: return .audio
            case .ptt: return .ptt
            case .document: return .document
            case .location, .vcard: return nil
            }
        }

        /// Baileys' default mimetypes (messages.ts MIMETYPE_MAP), used when the request names none.
        var defaultMimetype: String {
            switch self {
            case .image: return "image/jpeg"
            case .video: return "video/mp4"
            case .audio, .ptt: return "audio/ogg; codecs=opus"
            case .document: return "application/pdf"
            case .sticker: return "image/webp"
            case .location, .vcard: return ""
            }
        }
    }

    /// `ciphertext ‖ HMAC-SHA256(macKey, iv ‖ ciphertext)[0:10]` (WauseProtocol.MediaCrypto, the
    /// formula the engine uses too).
    static func encrypt(_ plaintext: [UInt8], mediaKey: [UInt8], kind: Kind) throws -> [UInt8] {
        guard let type = kind.mediaType else { throw Refused(reason: "\(kind.rawValue) carries no file") }
        return try MediaCrypto.encrypt(plaintext, mediaKey: mediaKey, type: type).body
    }

    /// Why a received file was refused (the inbox row's `media.error`).
    struct Refused: Error {
        let reason: String
    }

    /// whatsmeow download.go validateMedia then decrypt: the body's hash, the MAC, the padding, the plaintext's hash.
    static func decrypt(_ body: [UInt8], mediaKey: [UInt8], kind: Kind, fileEncSHA256: [UInt8], fileSHA256: [UInt8]) throws(Refused) -> [UInt8] {
        guard let type = kind.mediaType else { throw Refused(reason: "\(kind.rawValue) carries no file") }
        do { return try MediaCrypto.decrypt(body, mediaKey: mediaKey, type: type, fileEncSha256: fileEncSHA256, fileSha256: fileSHA256) }
        catch { throw Refused(reason: error.description) }
    }

    static let chunkSize = 1 << 20

    /// `decrypt`'s checks, streamed from a file in 1 MiB chunks through a `MediaDecryptor` whose
    /// plaintext is only hashed (the phone keeps no copy). Answers the plaintext's SHA-256 and length.
    static func verifyFile(_ path: String, mediaKey: [UInt8], kind: Kind, fileEncSHA256: [UInt8],
                           fileSHA256: [UInt8]) throws(Refused) -> (sha256: [UInt8], size: Int64) {
        guard let type = kind.mediaType else { throw Refused(reason: "\(kind.rawValue) carries no file") }
        guard let file = MediaFile(path: path) else { throw Refused(reason: "no such media") }
        defer { file.close() }
        var decryptor: MediaDecryptor
        do { decryptor = try MediaDecryptor(mediaKey: mediaKey, type: type) } catch { throw Refused(reason: error.description) }
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(chunkSize + 16)
        while let chunk = file.read(chunkSize) {
            decryptor.update(chunk, appendingTo: &plaintext)
            plaintext.removeAll(keepingCapacity: true)
        }
        guard decryptor.bytesReceived == UInt64(file.size) else { throw Refused(reason: "the file changed while it was read") }
        do {
            let result = try decryptor.finish(expectedFileEncSha256: fileEncSHA256, expectedFileSha256: fileSHA256, appendingTo: &plaintext)
            return (result.fileSha256, Int64(result.fileLength))
        } catch {
            throw Refused(reason: error.description)
        }
    }

    // MARK: Sending

    /// What `POST /accounts/{phone}/send` asked for, checked.
    struct Request {
        var kind: Kind
        var data: [UInt8] = []
        var mimetype: String?
        var fileName: String?
        var caption: String?
        var gifPlayback = false
        var latitude: Double = 0
        var longitude: Double = 0
        var name: String?
        var address: String?
        var vcard: String?

        init(body: JSONObject, kindName: String) throws(WauseError) {
            guard let kind = Kind(admin: kindName) else {
                throw .invalidRequest("type must be one of text, image, video, audio, voice, document, sticker, location, vcard",
                                      details: ["type": .string(kindName)])
            }
            self.kind = kind
            func string(_ name: String) throws(WauseError) -> String? {
                guard let value = body[name], !value.isNull else { return nil }
                guard let text = value.stringValue else { throw .invalidRequest("\(name) must be a string") }
                return text
            }
            func number(_ name: String) throws(WauseError) -> Double {
                guard let value = body[name] else { throw .invalidRequest("\(name) (a number) is required for a location") }
                switch value {
                case .int(let n): return Double(n)
                case .double(let d): return d
                default: throw .invalidRequest("\(name) must be a number")
                }
            }
            mimetype = try string("mimetype")
            fileName = try string("file_name")
            caption = try string("caption")
            if let caption, caption.count > 1024 { throw .invalidRequest("caption is longer than 1024 characters") }
            if let flag = body["gif_playback"] {
                guard let value = flag.boolValue, kind == .video || !value else { throw .invalidRequest("gif_playback is a boolean, for videos") }
                gifPlayback = value
            }
            switch kind {
            case .location:
                latitude = try number("latitude")
                longitude = try number("longitude")
                guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
                    throw .invalidRequest("latitude must be within ±90 and longitude within ±180")
                }
                name = try string("name")
                address = try string("address")
            case .vcard:
                guard let vcard = try string("vcard"), vcard.hasPrefix("BEGIN:VCARD") else {
                    throw .invalidRequest("vcard (a string starting BEGIN:VCARD) is required")
                }
                self.vcard = vcard
                name = try string("name")
            default:
                guard let encoded = try string("data_base64") else { throw .invalidRequest("data_base64 (the file, base64) is required") }
                guard let data = Base64.decode(encoded) else { throw .invalidRequest("data_base64 is not valid base64") }
                guard !data.isEmpty else { throw .invalidRequest("data_base64 must not be empty") }
                self.data = data
            }
        }
    }

    /// The message for a request; media is encrypted and stored first (the store answers the direct path).
    static func message(for request: Request, store: MediaStore, baseURL: String, now: UnixTime,
                        random: (Int) -> [UInt8]) throws(WauseError) -> WAWebProtobufsE2E_Message {
        var message = WAWebProtobufsE2E_Message()
        switch request.kind {
        case .location:
            var location = WAWebProtobufsE2E_LocationMessage()
            location.degreesLatitude = request.latitude
            location.degreesLongitude = request.longitude
            if let name = request.name { location.name = name }
            if let address = request.address { location.address = address }
            message.locationMessage = location
            return message
        case .vcard:
            var contact = WAWebProtobufsE2E_ContactMessage()
            contact.vcard = request.vcard ?? ""
            contact.displayName = request.name ?? PhoneMedia.vcardName(request.vcard ?? "") ?? ""
            message.contactMessage = contact
            return message
        default: break
        }
        let mediaKey = random(32)
        let body: [UInt8]
        do { body = try encrypt(request.data, mediaKey: mediaKey, kind: request.kind) } catch {
            throw WauseError(.internal, "cannot encrypt media: \(error)")
        }
        let directPath = try store.store(body)
        try store.keepSent(body)
        let fileSHA256 = Data(Hash.sha256(request.data)), fileEncSHA256 = Data(Hash.sha256(body))
        let url = baseURL + directPath, mimetype = request.mimetype ?? request.kind.defaultMimetype
        let length = UInt64(request.data.count), key = Data(mediaKey), t = now.seconds
        switch request.kind {
        case .image:
            var image = WAWebProtobufsE2E_ImageMessage()
            image.url = url; image.directPath = directPath; image.mimetype = mimetype; image.mediaKey = key
            image.fileSha256 = fileSHA256; image.fileEncSha256 = fileEncSHA256; image.fileLength = length; image.mediaKeyTimestamp = t
            if let caption = request.caption { image.caption = caption }
            message.imageMessage = image
        case .video:
            var video = WAWebProtobufsE2E_VideoMessage()
            video.url = url; video.directPath = directPath; video.mimetype = mimetype; video.mediaKey = key
            video.fileSha256 = fileSHA256; video.fileEncSha256 = fileEncSHA256; video.fileLength = length; video.mediaKeyTimestamp = t
            if let caption = request.caption { video.caption = caption }
            if request.gifPlayback { video.gifPlayback = true }
            message.videoMessage = video
        case .audio, .ptt:
            var audio = WAWebProtobufsE2E_AudioMessage()
            audio.url = url; audio.directPath = directPath; audio.mimetype = mimetype; audio.mediaKey = key
            audio.fileSha256 = fileSHA256; audio.fileEncSha256 = fileEncSHA256; audio.fileLength = length; audio.mediaKeyTimestamp = t
            audio.ptt = request.kind == .ptt
            message.audioMessage = audio
        case .document:
            var document = WAWebProtobufsE2E_DocumentMessage()
            document.url = url; document.directPath = directPath; document.mimetype = mimetype; document.mediaKey = key
            document.fileSha256 = fileSHA256; document.fileEncSha256 = fileEncSHA256; document.fileLength = length
            document.mediaKeyTimestamp = t
            // Baileys names a document without a name "file".
            document.fileName = request.fileName ?? "file"
            document.title = document.fileName
            if let caption = request.caption {
                // A captioned document travels inside documentWithCaptionMessage (the reference fact map's media protobuf list).
                document.caption = caption
                var inner = WAWebProtobufsE2E_Message()
                inner.documentMessage = document
                var wrapper = WAWebProtobufsE2E_FutureProofMessage()
                wrapper.message = inner
                message.documentWithCaptionMessage = wrapper
            } else {
                message.documentMessage = document
            }
        case .sticker:
            var sticker = WAWebProtobufsE2E_StickerMessage()
            sticker.url = url; sticker.directPath = directPath; sticker.mimetype = mimetype; sticker.mediaKey = key
            sticker.fileSha256 = fileSHA256; sticker.fileEncSha256 = fileEncSHA256; sticker.fileLength = length
            sticker.mediaKeyTimestamp = t
            message.stickerMessage = sticker
        case .location, .vcard: break
        }
        return message
    }

    /// The `FN:` of a vCard, if any.
    static func vcardName(_ vcard: String) -> String? {
        for line in vcard.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) where line.hasPrefix("FN:") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    // MARK: Receiving

    /// The common fields of a received media message.
    private struct Received {
        var kind: Kind
        var mimetype: String
        var directPath: String
        var mediaKey: [UInt8]
        var fileSHA256: [UInt8]
        var fileEncSHA256: [UInt8]
        var fileLength: UInt64
        var extra: JSONObject = [:]
    }

    /// The inbox row's `media` object for a received message (nil for text), and its caption.
    /// The file is read from the store, verified and decrypted here: `sha256` is that of the
    /// plaintext that passed every check, `error` says why there is none.
    static func describe(_ content: WAWebProtobufsE2E_Message, store: MediaStore) -> (media: JSONValue, caption: String?)? {
        let current = MessageFormat.unwrapped(content)
        var caption: String?
        let received: Received
        if current.hasImageMessage {
            let m = current.imageMessage
            received = Received(kind: .image, mimetype: m.mimetype, directPath: m.directPath, mediaKey: Array(m.mediaKey),
                                fileSHA256: Array(m.fileSha256), fileEncSHA256: Array(m.fileEncSha256), fileLength: m.fileLength,
                                extra: optional(["width": m.hasWidth ? .int(Int64(m.width)) : nil, "height": m.hasHeight ? .int(Int64(m.height)) : nil]))
            caption = m.hasCaption ? m.caption : nil
        } else if current.hasVideoMessage {
            let m = current.videoMessage
            received = Received(kind: .video, mimetype: m.mimetype, directPath: m.directPath, mediaKey: Array(m.mediaKey),
                                fileSHA256: Array(m.fileSha256), fileEncSHA256: Array(m.fileEncSha256), fileLength: m.fileLength,
                                extra: optional(["width": m.hasWidth ? .int(Int64(m.width)) : nil, "height": m.hasHeight ? .int(Int64(m.height)) : nil,
                                                 "seconds": m.hasSeconds ? .int(Int64(m.seconds)) : nil,
                                                 "gif_playback": m.gifPlayback ? .bool(true) : nil]))
            caption = m.hasCaption ? m.caption : nil
        } else if current.hasAudioMessage {
            let m = current.audioMessage
            received = Received(kind: m.ptt ? .ptt : .audio, mimetype: m.mimetype, directPath: m.directPath, mediaKey: Array(m.mediaKey),
                                fileSHA256: Array(m.fileSha256), fileEncSHA256: Array(m.fileEncSha256), fileLength: m.fileLength,
                                extra: optional(["seconds": m.hasSeconds ? .int(Int64(m.seconds)) : nil]))
        } else if current.hasDocumentMessage {
            let m = current.documentMessage
            received = Received(kind: .document, mimetype: m.mimetype, directPath: m.directPath, mediaKey: Array(m.mediaKey),
                                fileSHA256: Array(m.fileSha256), fileEncSHA256: Array(m.fileEncSha256), fileLength: m.fileLength,
                                extra: optional(["file_name": m.hasFileName ? .string(m.fileName) : nil]))
            caption = m.hasCaption ? m.caption : nil
        } else if current.hasStickerMessage {
            let m = current.stickerMessage
            received = Received(kind: .sticker, mimetype: m.mimetype, directPath: m.directPath, mediaKey: Array(m.mediaKey),
                                fileSHA256: Array(m.fileSha256), fileEncSHA256: Array(m.fileEncSha256), fileLength: m.fileLength,
                                extra: optional(["width": m.hasWidth ? .int(Int64(m.width)) : nil, "height": m.hasHeight ? .int(Int64(m.height)) : nil]))
        } else if current.hasLocationMessage {
            let m = current.locationMessage
            return (.object(optional(["type": "location", "latitude": .double(m.degreesLatitude), "longitude": .double(m.degreesLongitude),
                                      "name": m.hasName ? .string(m.name) : nil, "address": m.hasAddress ? .string(m.address) : nil])), nil)
        } else if current.hasContactMessage {
            let m = current.contactMessage
            return (["type": "vcard", "display_name": .string(m.displayName), "vcard": .string(m.vcard)], nil)
        } else if current.hasContactsArrayMessage {
            let m = current.contactsArrayMessage
            return (["type": "vcard", "display_name": .string(m.displayName),
                     "vcards": .array(m.contacts.map { .string($0.vcard) })], nil)
        } else {
            return nil
        }
        var media: JSONObject = ["type": .string(received.kind.rawValue), "mimetype": .string(received.mimetype),
                                 "size": .int(Int64(received.fileLength)), "direct_path": .string(received.directPath)]
        if let caption { media["caption"] = .string(caption) }
        for (key, value) in received.extra { media[key] = value }
        do throws(Refused) {
            guard case .found(let path, _) = store.lookup(directPath: received.directPath) else {
                throw Refused(reason: store.lookup(directPath: received.directPath) == .expired ? "the media has expired" : "no such media")
            }
            let verified = try verifyFile(path, mediaKey: received.mediaKey, kind: received.kind, fileEncSHA256: received.fileEncSHA256,
                                          fileSHA256: received.fileSHA256)
            media["sha256"] = .string(Hex.encode(verified.sha256))
            media["size"] = .int(verified.size)
        } catch {
            media["sha256"] = .null
            media["error"] = .string(error.reason)
        }
        return (.object(media), caption)
    }

    /// The media key and `fileEncSha256` of a media message (what a retry needs), nil for anything else.
    static func keyAndHash(of content: WAWebProtobufsE2E_Message) -> (mediaKey: [UInt8], fileEncSHA256: [UInt8])? {
        let current = MessageFormat.unwrapped(content)
        if current.hasImageMessage { return (Array(current.imageMessage.mediaKey), Array(current.imageMessage.fileEncSha256)) }
        if current.hasVideoMessage { return (Array(current.videoMessage.mediaKey), Array(current.videoMessage.fileEncSha256)) }
        if current.hasAudioMessage { return (Array(current.audioMessage.mediaKey), Array(current.audioMessage.fileEncSha256)) }
        if current.hasDocumentMessage { return (Array(current.documentMessage.mediaKey), Array(current.documentMessage.fileEncSha256)) }
        if current.hasStickerMessage { return (Array(current.stickerMessage.mediaKey), Array(current.stickerMessage.fileEncSha256)) }
        return nil
    }

    private static func optional(_ values: [String: JSONValue?]) -> JSONObject {
        var object = JSONObject()
        for key in values.keys.sorted() { if let value = values[key] ?? nil { object[key] = value } }
        return object
    }
}
