/// What kind of file a media blob is, and the three names WhatsApp derives from that: the HKDF
/// info string of its keys, the mms-type of its upload path and download query, and the
/// `mediatype` attribute of the `<enc>` carrying its message.
///
/// Sources: whatsmeow download.go (`MediaType` constants, `classToMediaType`,
/// `mediaTypeToMMSType`), send.go `getMediaTypeFromMessage`; Baileys src/Defaults/index.ts
/// `MEDIA_HKDF_KEY_MAPPING`, `MEDIA_PATH_MAP`.
public enum MediaType: String, CaseIterable, Sendable, Hashable {
    case image
    /// Stickers use the image keys and path (whatsmeow `classToMediaType["StickerMessage"]`).
    case sticker
    case video
    /// A video with `gifPlayback`: video keys and path, `<enc mediatype="gif">`.
    case gif
    /// A round video note (`Message.ptvMessage`): a VideoMessage with video keys.
    case ptv
    case audio
    /// A voice note (`AudioMessage.PTT`): audio keys and path, `<enc mediatype="ptt">`.
    case ptt
    case document
    /// The history-sync blob of `HistorySyncNotification`.
    case history
    /// An app-state external blob (`ExternalBlobReference`).
    case appState = "app_state"
    case stickerPack = "sticker_pack"
    /// A high-quality link-preview thumbnail (`ExtendedTextMessage.thumbnailDirectPath`).
    case linkThumbnail = "link_thumbnail"

    /// The HKDF `info` of `MediaKeys` ("WhatsApp Image Keys", …).
    public var hkdfInfo: String {
        switch self {
        case .image, .sticker: "WhatsApp Image Keys"
        case .video, .gif, .ptv: "WhatsApp Video Keys"
        case .audio, .ptt: "WhatsApp Audio Keys"
        case .document: "WhatsApp Document Keys"
        case .history: "WhatsApp History Keys"
        case .appState: "WhatsApp App State Keys"
        case .stickerPack: "WhatsApp Sticker Pack Keys"
        case .linkThumbnail: "WhatsApp Link Thumbnail Keys"
        }
    }

    /// The mms-type: the path segment of an upload (`/mms/<mmsType>/<token>`) and the `mms-type`
    /// query item of a download (whatsmeow `mediaTypeToMMSType`, which maps by key family, so a
    /// sticker is `image` and a voice note `audio`).
    public var mmsType: String {
        switch self {
        case .image, .sticker: "image"
        case .video, .gif, .ptv: "video"
        case .audio, .ptt: "audio"
        case .document: "document"
        case .history: "md-msg-hist"
        case .appState: "md-app-state"
        case .stickerPack: "sticker-pack"
        case .linkThumbnail: "thumbnail-link"
        }
    }

    /// The `mediatype` attribute of the `<enc>` nodes of a message carrying this media (whatsmeow
    /// send.go getMediaTypeFromMessage), or nil when whatsmeow sets none: blobs that never travel
    /// as a message of their own, and `ptv`, for which getMediaTypeFromMessage has no case.
    public var encMediaType: String? {
        switch self {
        case .image: "image"
        case .sticker: "sticker"
        case .video: "video"
        case .gif: "gif"
        case .audio: "audio"
        case .ptt: "ptt"
        case .document: "document"
        case .ptv, .history, .appState, .stickerPack, .linkThumbnail: nil
        }
    }
}
