import Testing
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport
import WauseSupport
import WauseTransport

/// The engine linking by QR against a real wause-sim over real sockets, with the engine's timers
/// in virtual time.
@Suite struct QRLinkingTests {
    struct Setup {
        let simulatorDirectory = TemporaryDirectory(prefix: "wause-sim-test")
        let clientDirectory = TemporaryDirectory(prefix: "wause-sim-test")
        let simulator: Simulator
        let timers: VirtualTimers
        let client: WauseClient

        init() async throws {
            var settings = SimSettings(dataDirectory: simulatorDirectory.path)
            settings.port = 0
            settings.adminPort = 0
            simulator = try await Simulator.start(settings: settings, environment: .live,
                                                  logger: Logger(label: "sim", level: .error))
            timers = VirtualTimers(start: Environment.live.now())
            let timers = self.timers
            var config = ClientConfig(dataDirectory: clientDirectory.path)
            config.serverURL = "ws://127.0.0.1:\(simulator.chatPort)/ws/chat"
            config.serverRootKey = simulator.rootKey.publicKey
            config.logLevel = .error
            let environment = Environment(now: { timers.now }, randomBytes: Environment.live.randomBytes,
                                          sleep: { try await timers.sleep($0) }, dial: Environment.live.dial)
            client = try WauseClient(config: config, environment: environment)
        }

        func close() async {
            client.close()
            await simulator.stop()
        }
    }

    @Test func startAuthShowsSixRotatingCodesThenFails() async throws {
        let setup = try await Setup()
        let client = setup.client
        let status = try await client.call("whatsapp_start_auth", .null).get()
        #expect(status["state"] == "qr")
        #expect(status["has_qr"] == .bool(true))
        #expect(status["authenticated"] == .bool(false))

        var cursor: Int64 = 0
        var refs: [String] = []
        for index in 1...6 {
            let event = try #require(await nextEvent(client, named: "pairing.qr", after: cursor))
            cursor = event.cursor
            #expect(event.data["index"] == .int(Int64(index)))
            #expect(event.data["count"] == .int(6))
            let lifetime: Int64 = index == 1 ? 60_000 : 20_000
            #expect(event.data["expires_in"] == .int(lifetime / 1000))
            let qr = try #require(event.data["qr"]?.stringValue)
            #expect(client.currentPairingQR == qr)
            // whatsmeow pair.go makeQRData: ref, noise key, identity key, ADV secret (standard base64), client type.
            #expect(qr.hasPrefix("https://wa.me/settings/linked_devices#"))
            let fields = qr.split(separator: "#")[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == 5)
            #expect(fields[1] == Base64.encode(client.identity.noiseKey.publicKey))
            #expect(fields[2] == Base64.encode(client.identity.identityKey.publicKey))
            #expect(fields[3] == Base64.encode(client.identity.advSecret))
            #expect(fields[4] == "1")
            refs.append(fields[0])
            await setup.timers.waitForSleeper(duration: .milliseconds(lifetime))
            setup.timers.advance(by: .milliseconds(lifetime))
        }
        #expect(Set(refs).count == 6)
        let failure = try #require(await nextEvent(client, named: "pairing.failed", after: cursor))
        #expect(failure.data["reason"]?.stringValue?.contains("not scanned") == true)
        let after = try await client.call("whatsapp_status", .null).get()
        #expect(after["state"] == "auth_failure")
        #expect(after["has_qr"] == .bool(false))
        #expect(after["last_error"]?.stringValue?.contains("not scanned") == true)
        #expect(client.currentPairingQR == nil)
        await setup.close()
    }

    @Test func aSecondStartAuthWhileLinkingChangesNothing() async throws {
        let setup = try await Setup()
        _ = try await setup.client.call("whatsapp_start_auth", .null).get()
        let first = setup.client.currentPairingQR
        let again = try await setup.client.call("whatsapp_start_auth", .null).get()
        #expect(again["state"] == "qr")
        #expect(setup.client.currentPairingQR == first)
        await setup.close()
    }

    @Test func aWrongRootKeyIsRefusedAndRetriedWithBackoff() async throws {
        let setup = try await Setup()
        var config = setup.client.config
        setup.client.close()
        config.serverRootKey = [UInt8](repeating: 7, count: 32)
        let directory = TemporaryDirectory(prefix: "wause-sim-test")
        config.dataDirectory = directory.path
        let timers = setup.timers
        let client = try WauseClient(config: config, environment: Environment(
            now: { timers.now }, randomBytes: Environment.live.randomBytes, sleep: { try await timers.sleep($0) },
            dial: Environment.live.dial))
        client.connectionLoop.startLinking()
        // The certificate chain does not lead to our root: the handshake fails, and the loop waits
        // its first backoff (1 s ± 25 %) before dialing again.
        await timers.waitForSleeper { (Duration.milliseconds(750)...Duration.milliseconds(1250)).contains($0) }
        let (state, lastError) = client.connectionSnapshot()
        #expect(state == .starting)
        #expect(lastError?.contains("certificate") == true)
        #expect(client.currentPairingQR == nil)
        client.close()
        await setup.simulator.stop()
    }
}
