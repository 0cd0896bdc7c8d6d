import WauseCore
import WauseSQLite
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// The store's message ingest and full-text search, beside a peer in the same run: Python's
/// sqlite3 module on the same SQLite library, the same schema (read from a store file this
/// benchmark migrated, never a copy), the same pragmas (`SQLiteDatabase.pragmas`, passed to it)
/// and the same statements `Store.ingest` runs (message, chat and event rows), so the comparison
/// is what the engine adds over SQLite itself.
///
/// Ingest: batches of 1, 100 and 10,000 messages, one transaction each, FTS5 kept by its insert
/// trigger (a batch of `Store.bulkIndexFrom` or more feeds it in one statement instead).
/// Search: a store of `searchMessages` messages built with the batch API, then 20 fixed queries
/// (words, prefix, phrases, AND/OR/NOT) run 200 times each through `Store.searchMessages`
/// (limit 20, best first); the peer runs the same statement on the same file.
/// Figures are wall-clock and thread CPU time (the machine may be shared: CPU time is what the
/// work costs, wall-clock includes the WAL writes and whatever else runs).
enum StoreBenchmark {
    /// (messages per transaction, messages ingested); `--store-runs 100:100000,…` replaces them.
    nonisolated(unsafe) static var ingestRuns = [(1, 5_000), (100, 100_000), (10_000, 100_000)]
    static let searchRounds = 200
    static let chats = 50

    /// A message corpus with a natural word distribution: each message 3–15 words drawn from a
    /// 20,000-word vocabulary by Zipf's law (s = 1, the shape of word frequencies in chat text),
    /// some query words placed at ranks a person would search for (a word in 0.02–0.3 % of
    /// messages), and three two-word phrases each put in 0.2 % of messages. Deterministic.
    static let placedWords: [(word: String, rank: Int)] = [
        ("lunch", 300), ("meeting", 340), ("weekend", 380), ("photo", 420), ("dinner", 460), ("coffee", 500), ("birthday", 600),
        ("train", 700), ("party", 800), ("delay", 900), ("project", 1000), ("holiday", 1100), ("report", 1200), ("review", 1300),
        ("flight", 1500), ("ticket", 1700), ("invoice", 2000), ("deadline", 2500), ("doctor", 3000), ("budget", 4000),
    ]
    static let phrases = ["train delay", "birthday party", "project deadline"]
    /// The 20 queries: words, a prefix, phrases, AND, OR, NOT.
    static let queries = [
        "lunch", "meeting", "invoice", "doctor", "weekend", "budget", "proj*",
        "\"train delay\"", "\"birthday party\"", "\"coffee meeting\"", "\"project deadline\"",
        "lunch AND weekend", "flight AND ticket", "report AND review",
        "dinner OR lunch", "holiday OR weekend", "photo OR party",
        "meeting NOT lunch", "party NOT birthday", "coffee NOT meeting",
    ]

    static func corpus(count: Int) -> [String] {
        let vocabularySize = 20_000
        var words = (0..<vocabularySize).map { "w\($0)" }
        for (word, rank) in placedWords { words[rank] = word }
        var cumulative: [Double] = []
        cumulative.reserveCapacity(vocabularySize)
        var total = 0.0
        for rank in 0..<vocabularySize {
            total += 1 / Double(rank + 1)
            cumulative.append(total)
        }
        var rng = SplitMix64(seed: 0x5704_E001)
        func word() -> String {
            let target = Double(rng.next() >> 11) / Double(1 << 53) * total
            var low = 0, high = vocabularySize - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < target { low = middle + 1 } else { high = middle }
            }
            return words[low]
        }
        return (0..<count).map { _ in
            var tokens = (0..<(3 + rng.next(below: 13))).map { _ in word() }
            if rng.next(below: 500) == 0 { tokens.insert(phrases[rng.next(below: phrases.count)], at: rng.next(below: tokens.count)) }
            return tokens.joined(separator: " ")
        }
    }

    static func wallSeconds() -> Double { seconds(CLOCK_MONOTONIC) }
    static func cpuSeconds() -> Double { seconds(CLOCK_THREAD_CPUTIME_ID) }
    static func seconds(_ clock: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }

    /// msgs/s by wall-clock and by thread CPU time.
    struct Rate {
        var wall: Double
        var cpu: Double
    }

    struct Latency {
        var p50: Double
        var p95: Double
        var p99: Double
        var p99CPU: Double
    }

    /// What the engine announces for each message (the fields of `message.received` the store
    /// knows); built once the row id is known, serialised into the event row.
    static func event(_ record: MessageRecord) -> (name: String, data: JSONObject) {
        ("message.received", ["message": [
            "id": .string(record.id), "chat_id": .string(record.chatJID), "from": .string(record.senderJID ?? ""),
            "type": .string(record.type), "body": .string(record.body), "timestamp": .int(record.timestamp.seconds),
            "cursor": .int(record.rowid),
        ]])
    }

    static func chatJID(_ index: Int) -> String { "1555000\(1000 + index % chats)@s.whatsapp.net" }

    /// A store with the benchmark's chats' contacts, then `bodies` ingested `batch` at a time.
    static func ingest(_ bodies: [String], batch: Int, into store: Store, contacts: [Contact]) throws -> Rate {
        let messages = bodies.enumerated().map { index, body in
            let contact = contacts[index % contacts.count]
            return IncomingMessage(record: MessageRecord(id: "3EB0\(index)", chatJID: contact.chatJID, senderJID: contact.chatJID,
                                                         fromMe: false, type: "chat", body: body,
                                                         timestamp: UnixTime(seconds: 1_700_000_000 + Int64(index))),
                                   contactID: contact.id, event: StoreBenchmark.event)
        }
        let wall = wallSeconds(), cpu = cpuSeconds()
        var start = 0
        while start < messages.count {
            let end = min(messages.count, start + batch)
            _ = try store.ingest(Array(messages[start..<end]), now: UnixTime(milliseconds: Int64(start)))
            start = end
        }
        return Rate(wall: Double(bodies.count) / (wallSeconds() - wall), cpu: Double(bodies.count) / (cpuSeconds() - cpu))
    }

    static func openStore(_ directory: String) throws -> (Store, [Contact]) {
        let store = try Store(directory: directory)
        let contacts = try (0..<chats).map { index in
            try store.contact(phone: "1555000\(1000 + index)", lid: nil, now: UnixTime(milliseconds: 1))
        }
        return (store, contacts)
    }

    static func search(_ store: Store) throws -> Latency {
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<searchRounds {
            for query in queries {
                let began = wallSeconds(), beganCPU = cpuSeconds()
                _ = try store.searchMessages(query, chat: nil, limit: 20)
                wall.append((wallSeconds() - began) * 1000)
                cpu.append((cpuSeconds() - beganCPU) * 1000)
            }
        }
        return Latency(p50: percentile(wall, 0.5), p95: percentile(wall, 0.95), p99: percentile(wall, 0.99), p99CPU: percentile(cpu, 0.99))
    }

    /// How many messages each query matches, counted on the same file through a connection of its own.
    static func matches(_ path: String) throws -> [Int] {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        return try queries.map { query in
            try database.withConnection { (c) throws(WauseError) in
                Int(try c.scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", [.text(query)]))
            }
        }
    }

    static func run(python: String, script: String, searchMessages: Int) {
        let base = "/tmp/wause-store-bench-\(getpid())"
        defer { _ = system("rm -rf '\(base)'") }
        let largest = ingestRuns.map(\.1).max() ?? 0
        let bodies = corpus(count: max(searchMessages, largest))
        print("\nstore ingest: message, chat and event rows per message, one transaction per batch, FTS5 kept by its trigger"
            + " (a batch of \(Store.bulkIndexFrom) or more: in one statement);"
            + " Python sqlite3 runs the same statements with the same pragmas on the same schema")
        print("  pragmas: \(SQLiteDatabase.pragmas)")

        // The peer's inputs: the schema from an empty store of ours, the messages, the queries.
        let schemaStore = base + "/schema"
        do { try Store(directory: schemaStore).close() } catch { print("cannot create the schema store: \(error)"); return }
        let corpusPath = base + "/corpus.txt"
        guard let file = fopen(corpusPath, "w") else { print("cannot write \(corpusPath)"); return }
        for body in bodies.prefix(largest) { fputs("m " + body + "\n", file) }
        for query in queries { fputs("q " + query + "\n", file) }
        fclose(file)

        var ours: [Int: Rate] = [:]
        do {
            for (index, (batch, count)) in ingestRuns.enumerated() {
                let (store, contacts) = try openStore(base + "/ingest\(index)")
                defer { store.close() }
                ours[batch] = try ingest(Array(bodies.prefix(count)), batch: batch, into: store, contacts: contacts)
            }
        } catch {
            print("store ingest failed: \(error)")
            return
        }

        // The search store, built once with the batch API.
        let searchDirectory = base + "/search"
        var built: Rate?
        var latency: Latency?
        var hits: [Int] = []
        if searchMessages > 0 {
            do {
                let (store, contacts) = try openStore(searchDirectory)
                built = try ingest(Array(bodies.prefix(searchMessages)), batch: 10_000, into: store, contacts: contacts)
                latency = try search(store)
                store.close()
                hits = try matches(searchDirectory + "/" + Store.databaseFileName)
            } catch {
                print("store search failed: \(error)")
            }
        }

        let runs = ingestRuns.map { "\($0.0):\($0.1)" }.joined(separator: ",")
        var command = "'\(python)' '\(script)' --schema-db '\(schemaStore)/\(Store.databaseFileName)' --corpus '\(corpusPath)'"
            + " --directory '\(base)/peer' --pragmas '\(SQLiteDatabase.pragmas)' --runs \(runs) --chats \(chats) --rounds \(searchRounds)"
        if latency != nil { command += " --search-db '\(searchDirectory)/\(Store.databaseFileName)'" }
        var peerIngest: [Int: Rate] = [:]
        var peerLatency: Latency?
        var failure: String?
        if let pipe = popen(command + " 2>&1", "r") {
            var buffer = [CChar](repeating: 0, count: 4096)
            var output = ""
            while fgets(&buffer, Int32(buffer.count), pipe) != nil { output += String(cString: buffer) }
            let status = pclose(pipe)
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: " ")
                let numbers = fields.dropFirst().compactMap { Double($0) }
                if fields.first == "ingest", numbers.count == 3 {
                    peerIngest[Int(numbers[0])] = Rate(wall: numbers[1], cpu: numbers[2])
                } else if fields.first == "search", numbers.count == 4 {
                    peerLatency = Latency(p50: numbers[0], p95: numbers[1], p99: numbers[2], p99CPU: numbers[3])
                }
            }
            if status != 0 || peerIngest.isEmpty { failure = "peer failed (status \(status)): \(output.split(separator: "\n").suffix(3).joined(separator: " | "))" }
        } else {
            failure = "cannot start \(python)"
        }

        func f(_ value: Double?) -> String {
            guard let value, value.isFinite else { return "-" }
            return value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 100)) / 100)
        }
        func ratio(_ a: Double?, _ b: Double?) -> String {
            guard let a, let b, b > 0 else { return "-" }
            return String(Double(Int(a / b * 100)) / 100) + "×"
        }
        let widths = [34, 12, 12, 8, 14, 14, 8]
        func row(_ cells: [String]) { print(cells.enumerated().map { $0 == 0 ? $1 : $1.padded(widths[$0]) }.joined()) }
        row(["  ingest msgs/s (messages)", "wause", "python", "×", "wause cpu", "python cpu", "×"])
        for (batch, count) in ingestRuns {
            let a = ours[batch], b = peerIngest[batch]
            let label = batch == 1 ? "  batch of 1 (bound by commit)" : "  batch of \(batch)"
            row([label + " (\(count))", f(a?.wall), f(b?.wall), ratio(a?.wall, b?.wall), f(a?.cpu), f(b?.cpu), ratio(a?.cpu, b?.cpu)])
        }
        if let built { row(["  batch of 10000, \(searchMessages) msgs", f(built.wall), "", "", f(built.cpu), "", ""]) }
        if let latency {
            print("  FTS5 search at \(searchMessages) messages, \(queries.count) queries × \(searchRounds) runs, limit 20, best first (ms;"
                + " python runs the same statement on the same file):")
            row(["  p50", f(latency.p50), f(peerLatency?.p50)])
            row(["  p95", f(latency.p95), f(peerLatency?.p95)])
            row(["  p99 (goal < 20)", f(latency.p99), f(peerLatency?.p99)])
            row(["  p99 thread CPU", f(latency.p99CPU), f(peerLatency?.p99CPU)])
            print("  matches per query: " + zip(queries, hits).map { "\($0) \($1)" }.joined(separator: ", "))
        }
        if let failure { print("  \(failure)") }
    }
}

extension String {
    func padded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
