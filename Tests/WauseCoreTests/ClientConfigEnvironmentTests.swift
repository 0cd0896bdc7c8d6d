import Testing
import WauseCore
import WauseSupport

/// The library's `WAUSE_*` fallbacks (ClientConfig.init(json:variable:)): a key the JSON lacks comes
/// from the environment, as in wause-mcp; an explicit key wins; a bad variable is named.
@Suite struct ClientConfigEnvironmentTests {
    static let variables = [
        "WAUSE_DATA_DIR": "/tmp/from-env", "WAUSE_LOG_LEVEL": "debug", "WAUSE_SERVER_URL": "ws://127.0.0.1:1/ws/chat",
        "WAUSE_SERVER_ROOT_KEY": String(repeating: "cd", count: 32), "WAUSE_CLIENT_VERSION": "2.3000.7",
        "WAUSE_PUSH_NAME": "Env Bot",
    ]

    @Test func missingKeysComeFromTheEnvironment() throws {
        let config = try ClientConfig(json: .object([:]), variable: { Self.variables[$0] })
        #expect(config.dataDirectory == "/tmp/from-env")
        #expect(config.logLevel == .debug)
        #expect(config.serverURL == "ws://127.0.0.1:1/ws/chat")
        #expect(config.serverRootKey == [UInt8](repeating: 0xCD, count: 32))
        #expect(config.clientVersion == "2.3000.7")
        #expect(config.pushName == "Env Bot")
    }

    @Test func explicitKeysWinAndNullMeansUnset() throws {
        let config = try ClientConfig(json: ["data_dir": "/tmp/explicit", "log_level": "error", "push_name": .null],
                                      variable: { Self.variables[$0] })
        #expect(config.dataDirectory == "/tmp/explicit")
        #expect(config.logLevel == .error)
        #expect(config.pushName == "Env Bot")
    }

    @Test func withoutVariablesDataDirIsStillRequired() {
        #expect(throws: WauseError.self) { try ClientConfig(json: .object([:]), variable: { _ in nil }) }
    }

    @Test func aBadVariableIsNamed() {
        do {
            _ = try ClientConfig(json: ["data_dir": "/tmp/x"], variable: { $0 == "WAUSE_LOG_LEVEL" ? "loud" : nil })
            Issue.record("accepted WAUSE_LOG_LEVEL=loud")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.hasPrefix("WAUSE_LOG_LEVEL:"))
        }
        // An explicit key shadows a bad variable: the variable is never read.
        #expect(throws: Never.self) {
            try ClientConfig(json: ["data_dir": "/tmp/x", "log_level": "info"], variable: { $0 == "WAUSE_LOG_LEVEL" ? "loud" : nil })
        }
    }
}
