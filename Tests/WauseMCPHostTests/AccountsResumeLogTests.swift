import Testing
@testable import WauseMCPHost

/// Where an --accounts-dir stream resumes (AccountsResumeLog): one `<account>:<cursor>` id
/// stands for a position on every account, as the session's streams sent them.
@Suite struct AccountsResumeLogTests {
    @Test func anIdIsAPositionOnEveryAccount() {
        var log = AccountsResumeLog(start: ["ada": 10, "bob": 4])
        log.begin(from: log.latest)
        for (account, cursor) in [("ada", 11), ("bob", 5), ("ada", 12), ("bob", 6)] { log.record(account: account, cursor: Int64(cursor)) }
        #expect(log.positions(resumingAfter: "bob:5") == ["ada": 11, "bob": 5])
        #expect(log.positions(resumingAfter: "ada:12") == ["ada": 12, "bob": 5])
        #expect(log.latest == ["ada": 12, "bob": 6])
        // An account the session did not know when it started reads from its first event.
        log.record(account: "cy", cursor: 3)
        #expect(log.positions(resumingAfter: "cy:3")?["cy"] == 3 && log.positions(resumingAfter: "bob:6")?["cy"] == nil)
        #expect(AccountsResumeLog.parse("x-1:7")! == ("x-1", 7) && AccountsResumeLog.parse("7") == nil && AccountsResumeLog.parse(":7") == nil)
        #expect(log.positions(resumingAfter: "garbage") == nil)
    }

    /// A client that resumes from an id of an earlier stream gets that stream's view: what a later
    /// stream sent (and it never received) is not counted as had.
    @Test func anEarlierStreamsIdDoesNotCountWhatALaterStreamSent() {
        var log = AccountsResumeLog(start: ["ada": 0, "bob": 0])
        log.begin(from: log.latest)
        log.record(account: "ada", cursor: 1)
        log.record(account: "ada", cursor: 2)  // sent, never received
        log.begin(from: log.positions(resumingAfter: "ada:1")!)
        log.record(account: "bob", cursor: 1)
        log.record(account: "ada", cursor: 2)
        #expect(log.positions(resumingAfter: "bob:1") == ["ada": 1, "bob": 1])
        // The same id again (the client got nothing in between): the same place.
        #expect(log.positions(resumingAfter: "ada:1") == ["ada": 1, "bob": 0])
    }

    /// An id the log no longer holds resumes from the oldest start kept, with its account where
    /// the id says: events may come twice, none are skipped.
    @Test func aForgottenIdFallsBackToTheOldestStart() {
        var log = AccountsResumeLog(start: ["ada": 0, "bob": 0])
        log.begin(from: log.latest)
        for cursor in 1...Int64(AccountsResumeLog.entryLimit + 10) { log.record(account: "ada", cursor: cursor) }
        let folded = log.positions(resumingAfter: "bob:9")!
        #expect(folded["bob"] == 9 && folded["ada"]! > 0 && folded["ada"]! < Int64(AccountsResumeLog.entryLimit))
        #expect(log.positions(resumingAfter: "ada:\(AccountsResumeLog.entryLimit + 10)") == ["ada": Int64(AccountsResumeLog.entryLimit + 10), "bob": 0])
        #expect(log.latest["ada"] == Int64(AccountsResumeLog.entryLimit + 10))
    }
}
