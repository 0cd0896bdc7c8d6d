import Testing
import WauseSupport

@Suite struct LongOptionsTests {
    let flags = ["--help": "help", "-h": "help"]

    @Test func takesBothValueFormsAndTheLastWins() {
        #expect(LongOptions.parse(["--port", "1", "--data-dir=/d", "--port=2"], valued: ["port", "data-dir"], flags: flags)
                == .values(["port": "2", "data-dir": "/d"]))
        #expect(LongOptions.parse(["--data-dir=a=b"], valued: ["data-dir"], flags: flags) == .values(["data-dir": "a=b"]))
    }

    @Test func aFlagEndsParsing() {
        #expect(LongOptions.parse(["--port", "1", "-h", "--bogus"], valued: ["port"], flags: flags) == .flag("help"))
    }

    @Test func refusesWhatItDoesNotKnow() {
        #expect(LongOptions.parse(["stray"], valued: [], flags: flags) == .failure(message: "unexpected argument 'stray'", showUsage: true))
        #expect(LongOptions.parse(["--bogus"], valued: [], flags: flags) == .failure(message: "unknown option '--bogus'", showUsage: true))
        #expect(LongOptions.parse(["--port"], valued: ["port"], flags: flags)
                == .failure(message: "option '--port' needs a value", showUsage: false))
    }
}
