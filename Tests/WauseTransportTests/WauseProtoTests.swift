import Testing
import WauseCrypto
import WauseProto

/// The generated protobuf code (WauseProto has no test target of its own; the transport is its
/// first user). Known answers come from the Python protobuf runtime with descriptors written
/// independently (tests/interop/noise_whatsapp.py).
@Suite("WauseProto messages")
struct WauseProtoTests {
    @Test("a login ClientPayload encodes as the Python protobuf runtime encodes it")
    func clientPayload() throws {
        var payload = WAWebProtobufsWa6_ClientPayload()
        payload.username = 15_551_234_567
        payload.passive = true
        payload.pull = true
        payload.device = 3
        payload.connectType = .wifiUnknown
        payload.connectReason = .userActivated
        payload.userAgent.platform = .web
        payload.userAgent.releaseChannel = .release
        payload.userAgent.appVersion.primary = 2
        payload.userAgent.appVersion.secondary = 3000
        payload.userAgent.appVersion.tertiary = 1_045_649_367
        let bytes: [UInt8] = try payload.serializedBytes()
        #expect(Hex.encode(bytes) == "088784b4f73918012a11080e120b080210b81718d7afcdf203500060016801900103880201")
        #expect(try WAWebProtobufsWa6_ClientPayload(serializedBytes: bytes) == payload)
    }

    @Test("proto2 presence: an explicit false is sent, an unset field is not (whatsmeow store/clientpayload.go: passive = false)")
    func presence() throws {
        var payload = WAWebProtobufsWa6_ClientPayload()
        #expect(try payload.serializedBytes() == [UInt8]())
        payload.passive = false
        payload.pull = false
        #expect(Hex.encode(try payload.serializedBytes() as [UInt8]) == "18008802" + "00")
        let decoded = try WAWebProtobufsWa6_ClientPayload(serializedBytes: try payload.serializedBytes() as [UInt8])
        #expect(decoded.hasPassive && !decoded.passive && !decoded.hasUsername)
    }

    @Test("field numbers of the handshake, registration and ADV messages (whatsmeow proto/waWa6, proto/waCompanionReg, proto/waAdv)")
    func fieldNumbers() throws {
        var hello = WAWebProtobufsWa6_HandshakeMessage()
        hello.clientFinish.static = .init([1])
        hello.clientFinish.payload = .init([2])
        #expect(Hex.encode(try hello.serializedBytes() as [UInt8]) == "2206" + "0a0101" + "120102")

        var pairing = WAWebProtobufsWa6_ClientPayload.DevicePairingRegistrationData()
        pairing.eRegid = .init([0, 0, 0, 1])
        pairing.eKeytype = .init([5])
        pairing.buildHash = .init([0xaa])
        pairing.deviceProps = .init([0xbb])
        #expect(Hex.encode(try pairing.serializedBytes() as [UInt8]) == "0a0400000001" + "120105" + "3a01aa" + "4201bb")

        var props = WACompanionReg_DeviceProps()
        props.os = "wause"
        props.platformType = .chrome
        props.historySyncConfig.storageQuotaMb = 10240
        props.historySyncConfig.supportInlineContacts = true
        #expect(Hex.encode(try props.serializedBytes() as [UInt8]) == "0a057761757365" + "1801" + "2a06" + "188050" + "c00101")

        var identity = WAAdv_ADVDeviceIdentity()
        identity.rawID = 1
        identity.timestamp = 2
        identity.keyIndex = 3
        identity.accountType = .hosted
        identity.deviceType = .e2Ee
        #expect(Hex.encode(try identity.serializedBytes() as [UInt8]) == "0801" + "1002" + "1803" + "2001" + "2800")

        var container = WAAdv_ADVSignedDeviceIdentityHMAC()
        container.details = .init([1])
        container.hmac = .init([2])
        container.accountType = .hosted
        #expect(Hex.encode(try container.serializedBytes() as [UInt8]) == "0a0101" + "120102" + "1801")

        var keyIndexes = WAAdv_ADVKeyIndexList()
        keyIndexes.validIndexes = [1, 2]
        #expect(Hex.encode(try keyIndexes.serializedBytes() as [UInt8]) == "22020102")   // packed

        var dns = WAWebProtobufsWa6_ClientPayload.DNSSource()
        dns.dnsMethod = .system
        dns.appCached = true
        #expect(Hex.encode(try dns.serializedBytes() as [UInt8]) == "7800" + "800101")

        var web = WAWebProtobufsWa6_ClientPayload.WebInfo()
        web.webSubPlatform = .webBrowser
        #expect(Hex.encode(try web.serializedBytes() as [UInt8]) == "2000")
    }
}
