import WauseSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WauseBinary

/// Encode/decode throughput of the binary XML codec over two corpora of frames.
enum CodecBenchmark {
    struct Corpus {
        let name: String
        let nodes: [Node]
        let frames: [[UInt8]]
        var totalBytes: Int { frames.reduce(0) { $0 + $1.count } }
        var averageBytes: Int { frames.isEmpty ? 0 : totalBytes / frames.count }
    }

    struct Figures {
        var decodeMBps: Double
        var encodeMBps: Double
    }

    // MARK: Corpora

    /// `<message>` stanzas as sent to three devices: three `<to><enc>` of 180 random bytes and a
    /// 120-byte `<device-identity>`, the shape of a first message to a contact.
    static func messageCorpus(count: Int, seed: UInt64) -> Corpus {
        var random = SplitMix64(seed: seed)
        let nodes = (0..<count).map { index -> Node in
            let user = "1415555\(String(1000 + index % 9000))"
            let devices = [JID(user: user, server: .whatsApp), JID(user: user, device: 3, server: .whatsApp),
                           JID(user: "491701234567", device: UInt16(1 + index % 20), server: .whatsApp)]
            return Node(tag: "message", attributes: ["id": .text(messageID(&random)), "to": .jid(devices[0]), "type": "text"], children: [
                Node(tag: "participants", children: devices.map { device in
                    Node(tag: "to", attributes: ["jid": .jid(device)], children: [
                        Node(tag: "enc", attributes: ["v": "2", "type": "pkmsg"], bytes: random.bytes(180)),
                    ])
                }),
                Node(tag: "device-identity", bytes: random.bytes(120)),
            ])
        }
        return corpus("message", nodes)
    }

    /// Receipts, acks, IQs and notifications without binary payloads.
    static func smallCorpus(count: Int, seed: UInt64) -> Corpus {
        var random = SplitMix64(seed: seed)
        let nodes = (0..<count).map { index -> Node in
            let peer = JID(user: "4917\(String(10_000_000 + index))", server: .whatsApp)
            let id = AttributeValue.text(messageID(&random))
            let time = AttributeValue.text(String(1_718_000_000 + index))
            switch index % 6 {
            case 0: return Node(tag: "receipt", attributes: ["id": id, "to": .jid(peer)])
            case 1: return Node(tag: "receipt", attributes: ["id": id, "to": .jid(JID(user: "120363012345678901", server: .group)),
                                                             "participant": .jid(JID(user: peer.user, device: 2, server: .whatsApp)), "type": "read", "t": time])
            case 2: return Node(tag: "ack", attributes: ["id": id, "class": "message", "from": .jid(peer), "t": time])
            case 3: return Node(tag: "iq", attributes: ["id": .text("\(index).\(index % 97)-\(index % 13)"), "xmlns": "w:p", "type": "get", "to": .jid(.whatsAppServer)],
                                children: [Node(tag: "ping")])
            case 4: return Node(tag: "notification", attributes: ["from": .jid(.whatsAppServer), "type": "encrypt", "id": .text(String(900_000 + index)), "t": time],
                                children: [Node(tag: "count", attributes: ["value": "4"])])
            default: return Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "get", "xmlns": "usync", "id": .text(String(index))], children: [
                Node(tag: "usync", attributes: ["sid": id, "mode": "query", "last": "true", "index": "0", "context": "message"], children: [
                    Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"])]),
                    Node(tag: "list", children: [Node(tag: "user", attributes: ["jid": .jid(peer)])]),
                ]),
            ])
            }
        }
        return corpus("small", nodes)
    }

    private static func corpus(_ name: String, _ nodes: [Node]) -> Corpus {
        let encoder = NodeEncoder()
        let frames = nodes.map { try! encoder.encodeFrame($0) }  // our own valid corpus
        return Corpus(name: name, nodes: nodes, frames: frames)
    }

    /// Ids as WhatsApp Web makes them: "3EB0" + upper-case hex (hex-packed on the wire).
    private static func messageID(_ random: inout SplitMix64) -> String {
        let digits = Array("0123456789ABCDEF")
        return "3EB0" + String((0..<16).map { _ in digits[Int(random.next() & 0x0F)] })
    }

    // MARK: Measuring

    /// Median throughput over `rounds` rounds of about `seconds / rounds` each.
    static func measure(_ corpus: Corpus, seconds: Double, rounds: Int = 5, directions: Set<String> = ["decode", "encode"]) -> Figures {
        let decoder = NodeDecoder()
        let encoder = NodeEncoder()
        let bytes = Double(corpus.totalBytes)
        let decode = !directions.contains("decode") ? .nan : medianThroughput(bytes: bytes, seconds: seconds, rounds: rounds) {
            var sink = 0
            for frame in corpus.frames {
                sink &+= (try? decoder.decodeFrame(frame))?.children.count ?? -1
            }
            return sink
        }
        let encode = !directions.contains("encode") ? .nan : medianThroughput(bytes: bytes, seconds: seconds, rounds: rounds) {
            var sink = 0
            for node in corpus.nodes {
                sink &+= (try? encoder.encodeFrame(node))?.count ?? -1
            }
            return sink
        }
        return Figures(decodeMBps: decode, encodeMBps: encode)
    }

    private static func medianThroughput(bytes: Double, seconds: Double, rounds: Int, pass: () -> Int) -> Double {
        // Calibrate: how many passes over the corpus fill one round.
        var passes = 1
        while true {
            let start = now()
            for _ in 0..<passes { keep(pass()) }
            let elapsed = now() - start
            if elapsed >= seconds / Double(rounds) / 4 || passes >= 1 << 20 {
                passes = max(1, Int(Double(passes) * (seconds / Double(rounds)) / max(elapsed, 1e-9)))
                break
            }
            passes *= 2
        }
        var results: [Double] = []
        for _ in 0..<rounds {
            let start = now()
            for _ in 0..<passes { keep(pass()) }
            let elapsed = now() - start
            results.append(bytes * Double(passes) / elapsed / 1_000_000)
        }
        return results.sorted()[rounds / 2]
    }

    /// CPU time of this thread, not wall time: the machines this runs on are shared, and time
    /// spent descheduled says nothing about the codec. binary_bench.py measures the same way.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Keeps the optimiser from dropping the measured work.
    @inline(never)
    static func keep(_ value: Int) {
        if value == Int.min { print("unreachable") }
    }
}

