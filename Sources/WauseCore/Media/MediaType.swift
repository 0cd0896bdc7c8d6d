import WauseSupport

/// What a file is sent as (`whatsapp_send_file`'s `media_type`), and what kind of media message a
/// received one was. `voice` is WhatsApp's push-to-talk audio (`ptt`).
public enum MediaType: String, Sendable, CaseIterable, Comparable {
    case image, video, audio, voice, document, sticker

    public static func < (lhs: MediaType, rhs: MediaType) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses a `media_type` argument (also `ptt`, the message type's own name for a voice note).
    public static func parse(_ text: String) throws(WauseError) -> MediaType {
        if text == "ptt" { return .voice }
        guard let type = MediaType(rawValue: text) else {
            throw .invalidRequest("media_type must be one of \(MediaType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'",
                                  details: ["media_type": .string(text)])
        }
        return type
    }
}

/// The `media_auto_download` policy: which received media is downloaded as it arrives (the rest
/// waits for `whatsapp_download_media`), always within `media_auto_download_max_bytes`.
public enum MediaAutoDownload: Sendable, Equatable {
    case never
    case all
    case only(Set<MediaType>)

    /// `none`, `all`, or a comma-separated list of media types.
    public static func parse(_ text: String) throws(WauseError) -> MediaAutoDownload {
        let names = text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        if names == ["none"] || names.isEmpty { return .never }
        if names == ["all"] { return .all }
        var types: Set<MediaType> = []
        for name in names {
            guard let type = try? MediaType.parse(name) else {
                throw .invalidRequest("media_auto_download must be none, all, or a comma-separated list of "
                                      + "\(MediaType.allCases.map(\.rawValue).joined(separator: ", ")); got '\(name)'",
                                      details: ["key": "media_auto_download"])
            }
            types.insert(type)
        }
        return .only(types)
    }

    /// Whether a received file of this type and size is downloaded as it arrives.
    public func covers(_ type: MediaType, size: Int64, maxBytes: Int64) -> Bool {
        guard size <= maxBytes else { return false }
        switch self {
        case .never: return false
        case .all: return true
        case .only(let types): return types.contains(type)
        }
    }
}
