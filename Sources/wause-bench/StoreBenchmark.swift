import WauseCore
#if canImport(Glibc)
import Glibc
#endif

/// The store's message ingest (one transaction per message, as messages arrive, FTS5 index kept
/// by triggers) and full-text search latency at 100k messages, beside a peer in the same run:
/// Python's sqlite3 module on the same SQLite library, the same schema (the engine's own
/// migrations, read from the store file this benchmark created) and the same messages, so the
/// comparison is what the engine adds over SQLite itself. Wall-clock time: ingest includes the
/// WAL writes (synchronous=NORMAL on both sides).
enum StoreBenchmark {
    struct Figures {
        var ingestPerSecond: Double
        var searchMedianMs: Double
        var searchP95Ms: Double
    }

    static let vocabulary = ["lunch", "meeting", "tomorrow", "invoice", "photo", "birthday", "train", "delay", "coffee", "report",
                             "weekend", "call", "office", "dinner", "flight", "ticket", "party", "project", "deadline", "holiday",
                             "doctor", "school", "music", "game", "rain", "sunny", "budget", "review", "design", "launch"]

    /// Deterministic message bodies (6–20 words) and 200 queries: single words, phrases, AND/OR.
    static func corpus(count: Int) -> (bodies: [String], queries: [String]) {
        var rng = SplitMix64(seed: 0x5704_E000)
        let filler = (0..<2000).map { index in "w\(index)" }
        let bodies = (0..<count).map { _ -> String in
            (0..<(6 + rng.next(below: 15))).map { _ in
                rng.next(below: 4) == 0 ? vocabulary[rng.next(below: vocabulary.count)] : filler[rng.next(below: filler.count)]
            }.joined(separator: " ")
        }
        let queries = (0..<200).map { index -> String in
            let a = vocabulary[rng.next(below: vocabulary.count)], b = vocabulary[rng.next(below: vocabulary.count)]
            switch index % 4 {
            case 0: return a
            case 1: return "\"\(a) \(filler[rng.next(below: filler.count)])\""
            case 2: return "\(a) AND \(b)"
            default: return "\(a) OR \(b)"
            }
        }
        return (bodies, queries)
    }

    static func wallSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }

    /// Ours: `Store.insertMessage` per message into a fresh store, then `searchMessages` (limit 20).
    static func measure(bodies: [String], queries: [String], directory: String) throws -> Figures {
        let store = try Store(directory: directory)
        defer { store.close() }
        let contacts = try (0..<50).map { index in try store.contact(phone: "1555000\(1000 + index)", lid: nil, now: UnixTime(milliseconds: 1)) }
        let start = wallSeconds()
        for (index, body) in bodies.enumerated() {
            let contact = contacts[index % contacts.count]
            let record = MessageRecord(id: "3EB0\(index)", chatJID: contact.chatJID, senderJID: contact.chatJID, fromMe: false, type: "chat",
                                       body: body, timestamp: UnixTime(seconds: 1_700_000_000 + Int64(index)))
            _ = try store.insertMessage(record, contactID: contact.id, now: UnixTime(milliseconds: Int64(index)))
        }
        let ingest = Double(bodies.count) / (wallSeconds() - start)
        var latencies: [Double] = []
        for query in queries {
            let began = wallSeconds()
            _ = try store.searchMessages(query, chat: nil, limit: 20)
            latencies.append((wallSeconds() - began) * 1000)
        }
        return Figures(ingestPerSecond: ingest, searchMedianMs: percentile(latencies, 0.5), searchP95Ms: percentile(latencies, 0.95))
    }

    static func run(python: String, script: String, count: Int) {
        let (bodies, queries) = corpus(count: count)
        let base = "/tmp/wause-store-bench-\(getpid())"
        defer { _ = system("rm -rf '\(base)'") }
        print("\nstore: \(count) messages ingested one transaction each (FTS5 kept by triggers), then 200 searches (limit 20)")
        let ours: Figures
        do {
            ours = try measure(bodies: bodies, queries: queries, directory: base + "/wause")
        } catch {
            print("store benchmark failed: \(error)")
            return
        }
        // The peer gets the same messages and queries, and the schema from an empty store of ours.
        let schemaStore = base + "/schema"
        do { try Store(directory: schemaStore).close() } catch { print("cannot create the schema store: \(error)"); return }
        let corpusPath = base + "/corpus.txt"
        let text = (bodies.map { "m " + $0 } + queries.map { "q " + $0 }).joined(separator: "\n") + "\n"
        guard let file = fopen(corpusPath, "w") else { print("cannot write \(corpusPath)"); return }
        fputs(text, file)
        fclose(file)
        let command = "'\(python)' '\(script)' --schema-db '\(schemaStore)/wause.db' --corpus '\(corpusPath)' --directory '\(base)/peer' 2>&1"
        var peer: Figures?
        var failure: String?
        if let pipe = popen(command, "r") {
            var buffer = [CChar](repeating: 0, count: 4096)
            var output = ""
            while fgets(&buffer, Int32(buffer.count), pipe) != nil { output += String(cString: buffer) }
            let status = pclose(pipe)
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 4, fields[0] == "figures", let a = Double(fields[1]), let b = Double(fields[2]), let c = Double(fields[3]) {
                    peer = Figures(ingestPerSecond: a, searchMedianMs: b, searchP95Ms: c)
                }
            }
            if peer == nil { failure = "peer failed (status \(status)): \(output.split(separator: "\n").last ?? "")" }
        } else {
            failure = "cannot start \(python)"
        }
        func f(_ value: Double?) -> String {
            guard let value else { return "-" }
            return value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 100)) / 100)
        }
        print("  measure                      wause      python sqlite3 (same schema)")
        print("  ingest msgs/s           \(f(ours.ingestPerSecond).padded(10))      \(f(peer?.ingestPerSecond))")
        print("  search median ms        \(f(ours.searchMedianMs).padded(10))      \(f(peer?.searchMedianMs))")
        print("  search p95 ms           \(f(ours.searchP95Ms).padded(10))      \(f(peer?.searchP95Ms))")
        if let failure { print("  \(failure)") }
    }
}

extension String {
    func padded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
