import WauseCrypto
import WauseHTTP
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// wause-sim from start to exit: state, root key, the WhatsApp WebSocket endpoint, the admin API;
/// then the four facts on stdout; then serve until SIGINT/SIGTERM.
public enum SimRunner {
    public static func main(arguments: [String]) -> Int32 {
        ProcessSupport.blockStopSignals()

        let settings: SimSettings
        switch SimCommandLine.parse(arguments) {
        case .exit(let code, let output):
            writeLine(code == 0 ? 1 : 2, output)
            return code
        case .run(let parsed):
            settings = parsed
        }

        let environment = Environment.live
        let logger = Logger(label: "wause-sim", level: .info, clock: environment.now)
        let simulator: Simulator
        do {
            simulator = try runBlocking { () -> Result<Simulator, WauseError> in
                do { return .success(try await Simulator.start(settings: settings, environment: environment, logger: logger)) }
                catch let error as WauseError { return .failure(error) }
                catch { return .failure(.internal("\(error)")) }
            }.get()
        } catch {
            writeLine(2, "wause-sim: \(error.message)\n")
            return 1
        }
        // Tests and scripts read these four lines, in this order; each is written (and so flushed) at once.
        writeLine(1, "root_public_key=\(Hex.encode(simulator.rootKey.publicKey))\n")
        writeLine(1, "ws_url=ws://127.0.0.1:\(simulator.chatPort)/ws/chat\n")
        writeLine(1, "admin_url=http://127.0.0.1:\(simulator.adminPort)\n")
        writeLine(1, "media_url=\(simulator.media.baseURL)\n")

        let received = ProcessSupport.waitForStopSignal()
        logger.info("received signal \(received), shutting down")
        runBlocking { await simulator.stop() }
        return 0
    }

    static func writeLine(_ descriptor: Int32, _ text: String) { ProcessSupport.write(descriptor, text) }
}
