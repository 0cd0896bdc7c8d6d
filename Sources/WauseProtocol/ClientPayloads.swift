import Crypto
import SwiftProtobuf
import WauseCrypto
import WauseProto

import WauseSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The ClientPayload a companion sends inside the Noise ClientFinish (whatsmeow store/clientpayload.go):
/// a registration payload while unlinked (getRegistrationPayload), a login payload once linked
/// (getLoginPayload), both on the web-client base (BaseClientPayload).
public enum ClientPayloads {
    /// What the phone shows in "Linked devices": `Chrome (wause)`.
    public static let deviceOS = "wause"
    public static let platformType = WACompanionReg_DeviceProps.PlatformType.chrome
    /// The QR string's client-type field for `platformType` (whatsmeow pair.go makeQRData: Chrome = "1").
    public static let qrClientType = "1"

    static func base(clientVersion: String, pushName: String?) -> WAWebProtobufsWa6_ClientPayload {
        var payload = WAWebProtobufsWa6_ClientPayload()
        var userAgent = WAWebProtobufsWa6_ClientPayload.UserAgent()
        userAgent.platform = .web
        userAgent.releaseChannel = .release
        userAgent.appVersion = appVersion(clientVersion)
        userAgent.mcc = "000"
        userAgent.mnc = "000"
        userAgent.osVersion = "0.1"
        userAgent.manufacturer = ""
        userAgent.device = "Desktop"
        userAgent.osBuildNumber = "0.1"
        userAgent.localeLanguageIso6391 = "en"
        userAgent.localeCountryIso31661Alpha2 = "US"
        payload.userAgent = userAgent
        var webInfo = WAWebProtobufsWa6_ClientPayload.WebInfo()
        webInfo.webSubPlatform = .webBrowser
        payload.webInfo = webInfo
        payload.connectType = .wifiUnknown
        payload.connectReason = .userActivated
        if let pushName { payload.pushName = pushName }
        return payload
    }

    /// `2.3000.1045649367` → {primary 2, secondary 3000, tertiary 1045649367}. The config
    /// validated the form.
    static func appVersion(_ version: String) -> WAWebProtobufsWa6_ClientPayload.UserAgent.AppVersion {
        let parts = version.split(separator: ".").map { UInt32($0) ?? 0 }
        var appVersion = WAWebProtobufsWa6_ClientPayload.UserAgent.AppVersion()
        appVersion.primary = parts.count > 0 ? parts[0] : 0
        appVersion.secondary = parts.count > 1 ? parts[1] : 0
        appVersion.tertiary = parts.count > 2 ? parts[2] : 0
        return appVersion
    }

    /// `historyDays`/`historySizeMB` (config `history_sync_days`, `history_sync_size_mb`): the history window asked of the
    /// phone; nil leaves the field unset so the phone uses its defaults (as whatsmeow store/clientpayload.go and Baileys validate-connection.ts do).
    public static func deviceProps(historyDays: Int? = nil, historySizeMB: Int? = nil) -> WACompanionReg_DeviceProps {
        var props = WACompanionReg_DeviceProps()
        props.os = deviceOS
        var version = WACompanionReg_DeviceProps.AppVersion()
        version.primary = 0
        version.secondary = 1
        version.tertiary = 0
        props.version = version
        props.platformType = platformType
        props.requireFullSync = false
        var history = WACompanionReg_DeviceProps.HistorySyncConfig()
        history.storageQuotaMb = 10240
        history.inlineInitialPayloadInE2EeMsg = true
        history.supportCallLogHistory = false
        history.supportBotUserAgentChatHistory = true
        history.supportCagReactionsAndPolls = true
        history.supportBizHostedMsg = true
        history.supportRecentSyncChunkMessageCountTuning = true
        history.supportHostedGroupMsg = true
        history.supportFbidBotChatHistory = true
        history.supportMessageAssociation = true
        history.supportGroupHistory = false
        if let historyDays {
            history.fullSyncDaysLimit = UInt32(clamping: historyDays)
            history.recentSyncDaysLimit = UInt32(clamping: historyDays)
        }
        if let historySizeMB { history.fullSyncSizeMbLimit = UInt32(clamping: historySizeMB) }
        props.historySyncConfig = history
        return props
    }

    /// whatsmeow store/clientpayload.go getRegistrationPayload: a device the server does not know yet, offering its keys for pairing.
    public static func registration(keys: PreKeyStanzas.PublicKeys, clientVersion: String, pushName: String?,
                                    historyDays: Int? = nil, historySizeMB: Int? = nil) throws(WauseError) -> [UInt8] {
        var payload = base(clientVersion: clientVersion, pushName: pushName)
        payload.passive = false
        payload.pull = false
        var pairing = WAWebProtobufsWa6_ClientPayload.DevicePairingRegistrationData()
        pairing.eRegid = Data(PreKeyStanzas.bigEndian(keys.registrationID, bytes: 4))
        pairing.eKeytype = Data([DjbPublicKey.typeByte])
        pairing.eIdent = Data(keys.identityKey)
        pairing.eSkeyID = Data(PreKeyStanzas.bigEndian(keys.signedPreKeyID, bytes: 3))
        pairing.eSkeyVal = Data(keys.signedPreKey)
        pairing.eSkeySig = Data(keys.signedPreKeySignature)
        pairing.buildHash = Data(Insecure.MD5.hash(data: Array(clientVersion.utf8)))
        do {
            pairing.deviceProps = try Data(deviceProps(historyDays: historyDays, historySizeMB: historySizeMB).serializedBytes() as [UInt8])
            payload.devicePairingData = pairing
            return try payload.serializedBytes()
        } catch {
            throw .internal("cannot encode the registration payload: \(error)")
        }
    }

    /// whatsmeow store/clientpayload.go getLoginPayload: a linked device logging in as `user:device`.
    public static func login(user: UInt64, device: UInt32, clientVersion: String, pushName: String?) throws(WauseError) -> [UInt8] {
        var payload = base(clientVersion: clientVersion, pushName: pushName)
        payload.username = user
        payload.device = device
        payload.passive = true
        payload.pull = true
        payload.lidDbMigrated = true
        payload.lc = 1
        do { return try payload.serializedBytes() } catch { throw .internal("cannot encode the login payload: \(error)") }
    }
}
