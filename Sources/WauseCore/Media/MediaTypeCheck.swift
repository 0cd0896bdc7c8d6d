import WauseSupport

/// A file's format as its first bytes say (magic numbers), never as its name says.
public enum SniffedFormat: String, Sendable, Equatable {
    case jpeg, png, webp, gif
    case mp4, quicktime, threeGPP = "3gpp"
    case m4a, oggOpus = "ogg_opus", ogg, mp3, aac, wav
    case pdf, zip, ole, text
    /// A program: Windows PE (`MZ`), ELF, Mach-O or a Java class (`CAFEBABE`).
    case executable
    case unknown

    /// How error messages name it.
    var label: String {
        switch self {
        case .jpeg: "a JPEG image"
        case .png: "a PNG image"
        case .webp: "a WebP image"
        case .gif: "a GIF image"
        case .mp4: "an MP4 video"
        case .quicktime: "a QuickTime (MOV) video"
        case .threeGPP: "a 3GP video"
        case .m4a: "an M4A (AAC) audio file"
        case .oggOpus: "an Ogg/Opus audio file"
        case .ogg: "an Ogg file without Opus audio"
        case .mp3: "an MP3 audio file"
        case .aac: "an AAC (ADTS) audio file"
        case .wav: "a WAV audio file"
        case .pdf: "a PDF document"
        case .zip: "a ZIP archive (or an Office/OpenDocument file)"
        case .ole: "a legacy Office (OLE) document"
        case .text: "plain text"
        case .executable: "an executable program"
        case .unknown: "of no recognised format"
        }
    }

    /// The mimetype the message carries; documents refine it by extension (`MediaTypeCheck`).
    public var mimetype: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        case .gif: "image/gif"
        case .mp4: "video/mp4"
        case .quicktime: "video/quicktime"
        case .threeGPP: "video/3gpp"
        case .m4a: "audio/mp4"
        // WhatsApp's voice-note mimetype (Baileys messages.ts uses it for ptt).
        case .oggOpus: "audio/ogg; codecs=opus"
        case .ogg: "audio/ogg"
        case .mp3: "audio/mpeg"
        case .aac: "audio/aac"
        case .wav: "audio/wav"
        case .pdf: "application/pdf"
        case .zip: "application/zip"
        case .ole: "application/x-ole-storage"
        case .text: "text/plain"
        case .executable, .unknown: "application/octet-stream"
        }
    }

    /// The extension the engine's copy of the file gets.
    var fileExtension: String? {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        case .gif: "gif"
        case .mp4: "mp4"
        case .quicktime: "mov"
        case .threeGPP: "3gp"
        case .m4a: "m4a"
        case .oggOpus: "opus"
        case .ogg: "ogg"
        case .mp3: "mp3"
        case .aac: "aac"
        case .wav: "wav"
        case .pdf: "pdf"
        case .zip: "zip"
        case .text: "txt"
        case .ole, .executable, .unknown: nil
        }
    }

    /// How many leading bytes `sniff` wants to see (fewer only at the end of a short file).
    public static let headLength = 512

    /// The format of a file starting with `head`.
    public static func sniff(_ head: some Collection<UInt8>) -> SniffedFormat {
        let bytes = Array(head.prefix(headLength))
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && Array(bytes[offset..<offset + magic.count]) == magic
        }
        func ascii(_ text: String, at offset: Int = 0) -> Bool { starts(Array(text.utf8), at: offset) }

        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if ascii("GIF87a") || ascii("GIF89a") { return .gif }
        if ascii("RIFF") && ascii("WEBP", at: 8) { return .webp }
        if ascii("RIFF") && ascii("WAVE", at: 8) { return .wav }
        if ascii("%PDF-") { return .pdf }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return .ole }
        if ascii("MZ") || starts([0x7F, 0x45, 0x4C, 0x46])
            || starts([0xFE, 0xED, 0xFA, 0xCE]) || starts([0xFE, 0xED, 0xFA, 0xCF])
            || starts([0xCE, 0xFA, 0xED, 0xFE]) || starts([0xCF, 0xFA, 0xED, 0xFE]) || starts([0xCA, 0xFE, 0xBA, 0xBE]) {
            return .executable
        }
        // ISO base media (MP4, MOV, 3GP, M4A): a box `ftyp` at offset 4 whose major brand says which.
        if ascii("ftyp", at: 4), bytes.count >= 12 {
            let brand = String(decoding: bytes[8..<12], as: UTF8.self)
            if brand.hasPrefix("M4A") || brand.hasPrefix("M4B") || brand.hasPrefix("M4P") { return .m4a }
            if brand == "qt  " { return .quicktime }
            if brand.hasPrefix("3gp") || brand.hasPrefix("3g2") { return .threeGPP }
            return .mp4
        }
        // Ogg: the first page's packet is `OpusHead` for Opus (RFC 7845, the identification header); the page header is
        // 27 bytes and its segment table (length at byte 26) comes before the packet.
        if ascii("OggS"), bytes.count > 27 {
            let packet = 27 + Int(bytes[26])
            return ascii("OpusHead", at: packet) ? .oggOpus : .ogg
        }
        if ascii("ID3") { return .mp3 }
        if bytes.count >= 2, bytes[0] == 0xFF {
            // ADTS (AAC) has layer bits 00 after the 12-bit sync; MPEG audio layers I–III do not.
            if bytes[1] & 0xF6 == 0xF0 { return .aac }
            if bytes[1] & 0xE0 == 0xE0, bytes[1] & 0x06 != 0 { return .mp3 }
        }
        if isText(bytes) { return .text }
        return .unknown
    }

    /// UTF-8 without NUL or other C0 controls than tab, newline, carriage return and form feed; a
    /// sequence cut by the end of the head is allowed.
    static func isText(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        if bytes.contains(where: { $0 < 0x20 && ![0x09, 0x0A, 0x0C, 0x0D].contains($0) }) { return false }
        var cut = bytes.count
        // Step back over a multi-byte sequence the head may have cut.
        var back = 0
        while back < 3, cut - back - 1 >= 0, bytes[cut - back - 1] & 0xC0 == 0x80 { back += 1 }
        if cut - back - 1 >= 0, bytes[cut - back - 1] >= 0xC0 { cut = cut - back - 1 }
        var iterator = bytes[0..<cut].makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Whether a file may be sent as a media type: its content (magic bytes) against the declared or
/// implied type, and a document's name against the blocklist of dangerous extensions.
public enum MediaTypeCheck {
    /// Extensions of programs and scripts a recipient's system may run on a click (the usual mail
    /// gateway list: Windows executables and scripts, installers, Java and Android packages).
    public static let defaultBlockedExtensions: Set<String> = [
        "exe", "bat", "cmd", "com", "scr", "pif", "cpl", "msi", "msp", "msc", "js", "jse", "vbs", "vbe", "wsf", "wsh",
        "ps1", "psm1", "hta", "jar", "apk", "xapk", "dll", "reg", "lnk", "inf", "gadget", "application", "appx", "msix",
    ]

    /// Parses `media_blocked_extensions`: comma-separated, with or without the dot, any case.
    public static func parseExtensions(_ text: String) throws(WauseError) -> Set<String> {
        var result: Set<String> = []
        for item in text.split(separator: ",") {
            var name = item.trimmingSpaces().lowercased()
            if name.hasPrefix(".") { name.removeFirst() }
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw .invalidRequest("media_blocked_extensions must be comma-separated extensions like exe,bat; got '\(item)'",
                                      details: ["key": "media_blocked_extensions"])
            }
            result.insert(name)
        }
        return result
    }

    /// The extension of a file name, lower case, without the dot; trailing dots and spaces are
    /// dropped first, as Windows drops them (`report.exe.` opens as `report.exe`).
    public static func fileExtension(_ name: String) -> String? {
        var base = Substring(name.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        while let last = base.last, last == "." || last == " " { base = base.dropLast() }
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return nil }
        let ext = base[base.index(after: dot)...].lowercased()
        return ext.isEmpty ? nil : ext
    }

    /// The media type a file is sent as when `media_type` is left out: by its extension.
    public static func impliedType(extension ext: String?) -> MediaType {
        switch ext {
        case "jpg", "jpeg", "png": .image
        case "webp": .sticker
        case "mp4", "m4v", "mov", "3gp": .video
        case "opus": .voice
        case "ogg", "oga", "mp3", "m4a", "aac": .audio
        default: .document
        }
    }

    /// What a document's extension promises about its content; a mismatch is refused (a `.pdf`
    /// that is a program, a `.jpg` that is a ZIP).
    static func expectedFormats(extension ext: String) -> Set<SniffedFormat>? {
        switch ext {
        case "pdf": [.pdf]
        case "jpg", "jpeg": [.jpeg]
        case "png": [.png]
        case "gif": [.gif]
        case "webp": [.webp]
        case "mp4", "m4v": [.mp4, .quicktime, .threeGPP]
        case "mov": [.quicktime, .mp4]
        case "3gp": [.threeGPP, .mp4]
        case "m4a": [.m4a, .mp4]
        case "mp3": [.mp3]
        case "aac": [.aac]
        case "wav": [.wav]
        case "ogg", "oga", "opus": [.oggOpus, .ogg]
        case "zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub": [.zip]
        case "doc", "xls", "ppt": [.ole]
        case "txt", "csv", "md", "json", "xml", "log", "vcf": [.text]
        default: nil
        }
    }

    /// The formats each media type accepts: what WhatsApp's clients play for that message kind.
    static func acceptedFormats(for type: MediaType) -> [SniffedFormat] {
        switch type {
        case .image: [.jpeg, .png, .webp]
        case .sticker: [.webp]
        case .video: [.mp4, .quicktime, .threeGPP]
        case .audio: [.mp3, .m4a, .aac, .oggOpus]
        // A voice note is Opus in Ogg: the format WhatsApp records ptt in.
        case .voice: [.oggOpus]
        case .document: []
        }
    }

    /// A document's mimetype: the content's, refined by the extension where one format carries
    /// several kinds of document (OOXML and OpenDocument are ZIPs, old Office files are OLE).
    static func documentMimetype(format: SniffedFormat, extension ext: String?) -> String {
        switch (format, ext) {
        case (.zip, "docx"): "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case (.zip, "xlsx"): "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case (.zip, "pptx"): "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        case (.zip, "odt"): "application/vnd.oasis.opendocument.text"
        case (.zip, "ods"): "application/vnd.oasis.opendocument.spreadsheet"
        case (.zip, "odp"): "application/vnd.oasis.opendocument.presentation"
        case (.zip, "epub"): "application/epub+zip"
        case (.ole, "doc"): "application/msword"
        case (.ole, "xls"): "application/vnd.ms-excel"
        case (.ole, "ppt"): "application/vnd.ms-powerpoint"
        case (.text, "csv"): "text/csv"
        case (.text, "md"): "text/markdown"
        case (.text, "json"): "application/json"
        case (.text, "xml"): "application/xml"
        case (.text, "vcf"): "text/vcard"
        default: format.mimetype
        }
    }

    /// Checks a file of `format` named `name` (the name the recipient sees) as `type`; returns the
    /// message's mimetype, or throws `forbidden_path` (a program, a blocked extension) or
    /// `invalid_request` (content that is not what the type or the name says) with the reason.
    public static func check(type: MediaType, format: SniffedFormat, name: String,
                             blockedExtensions: Set<String> = defaultBlockedExtensions) throws(WauseError) -> String {
        let ext = fileExtension(name)
        let details: JSONObject = ["media_type": .string(type.rawValue), "detected": .string(format.rawValue)]
        if format == .executable {
            throw WauseError(.forbiddenPath, "'\(name)' is \(format.label); programs cannot be sent", details: details)
        }
        if type == .document, let ext, blockedExtensions.contains(ext) {
            throw WauseError(.forbiddenPath, "'\(name)' has the blocked extension .\(ext) (media_blocked_extensions); "
                             + "files a recipient's system may run are not sent", details: details)
        }
        guard type == .document else {
            guard acceptedFormats(for: type).contains(format) else {
                let accepted = acceptedFormats(for: type).map(\.label).joined(separator: ", ")
                throw .invalidRequest("media_type \(type.rawValue) needs \(accepted); '\(name)' is \(format.label)", details: details)
            }
            return format.mimetype
        }
        if let ext, let expected = expectedFormats(extension: ext), !expected.contains(format) {
            throw .invalidRequest("'\(name)' is named .\(ext) but its content is \(format.label); rename it or send it as what it is",
                                  details: details)
        }
        return documentMimetype(format: format, extension: ext)
    }
}
