import Testing
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport
import WauseProtocol
import WauseSupport
import WauseTransport

/// Pairing-code linking when nobody enters the code: the simulator closes the linking connection
/// once its window (160 s) is over, and the engine ends in `auth_failure` with a clear reason
/// instead of redialling — a code belongs to its connection. Both sides' timers run in one
/// virtual clock, so the test does not wait the window out.
@Suite struct PairingCodeWindowTests {
    @Test func theCodeExpiresWithItsConnectionAndANewCallIssuesAnother() async throws {
        let simulatorDirectory = TemporaryDirectory(prefix: "wause-sim-test")
        let clientDirectory = TemporaryDirectory(prefix: "wause-sim-test")
        let timers = VirtualTimers(start: Environment.live.now())
        let virtual = Environment(now: { timers.now }, randomBytes: Environment.live.randomBytes,
                                  sleep: { try await timers.sleep($0) }, dial: Environment.live.dial)
        var settings = SimSettings(dataDirectory: simulatorDirectory.path)
        settings.port = 0
        settings.adminPort = 0
        let simulator = try await Simulator.start(settings: settings, environment: virtual, logger: Logger(label: "sim", level: .error))
        _ = try simulator.state.createAccount(phone: "15551234567", pushName: "Ada")
        var config = ClientConfig(dataDirectory: clientDirectory.path)
        config.serverURL = "ws://127.0.0.1:\(simulator.chatPort)/ws/chat"
        config.serverRootKey = simulator.rootKey.publicKey
        config.logLevel = .error
        let client = try WauseClient(config: config, environment: virtual)

        let issued = try await client.call("whatsapp_pairing_code", ["phone_number": "+1 555 123 4567"]).get()
        let code = try #require(issued["code"]?.stringValue)
        #expect(LinkCodeCrypto.normalize(code) != nil && code.count == 9)
        #expect(client.connectionSnapshot().0 == .pairingCode)
        #expect(client.currentPairingCode == code)

        // The simulator's window for the linking connection: 60 s + 5 × 20 s.
        await timers.waitForSleeper(duration: ChatEndpoint.pairingLifetime)
        timers.advance(by: ChatEndpoint.pairingLifetime)
        let failure = try #require(await nextEvent(client, named: "pairing.failed", after: 0))
        #expect(failure.data["reason"]?.stringValue?.contains("pairing code was not entered") == true)
        let (state, lastError) = client.connectionSnapshot()
        #expect(state == .authFailure)
        #expect(lastError?.contains("pairing code was not entered") == true)
        #expect(client.currentPairingCode == nil)
        #expect(!client.connectionLoop.isRunning)

        // Calling again dials again and issues a new code.
        let again = try await client.call("whatsapp_pairing_code", ["phone_number": "15551234567"]).get()
        #expect(again["code"]?.stringValue != code)
        #expect(client.connectionSnapshot().0 == .pairingCode)
        client.close()
        await simulator.stop()
    }
}
