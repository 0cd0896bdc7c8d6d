import Testing
@testable import WauseCore

@Suite struct WauseClientTests {
    @Test func statusOfANewClientIsStoppedWithTruthfulStoreCounts() async throws {
        let temp = TemporaryDirectory()
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment())
        defer { client.close() }
        let status = try await client.call("whatsapp_status", .null).get()
        #expect(status.keys == ["state", "ready", "authenticated", "has_qr", "last_error", "account", "data_dir", "store"])
        #expect(status["state"] == "stopped")
        #expect(status["ready"] == .bool(false))
        #expect(status["authenticated"] == .bool(false))
        #expect(status["has_qr"] == .bool(false))
        #expect(status["last_error"] == .null)
        #expect(status["account"] == .null)
        #expect(status["data_dir"] == .string(temp.path))
        #expect(status["store"] == ["chats": 0, "messages": 0, "unread": 0, "pending_approvals": 0])
        try Schema.validate(.object(status), against: StatusMethod.outputSchema)
        #expect(client.currentPairingQR == nil)
    }

    @Test func statusReportsALinkedAccountFromTheStore() async throws {
        let temp = TemporaryDirectory()
        do {
            let store = try Store(directory: temp.path)
            try store.database.withConnection { (c) throws(WauseError) in
                try c.execute("""
                    INSERT INTO device (id, registration_id, noise_private, noise_public, identity_private, identity_public,
                                        signed_prekey_id, adv_secret, jid, lid, platform, push_name, created_at)
                    VALUES (1, 7, x'00', x'00', x'00', x'00', 1, x'00', '15551234567:3@s.whatsapp.net', '99887766:3@lid', 'android', 'Ada', 0)
                    """)
            }
            store.close()
        }
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment())
        defer { client.close() }
        let status = try await client.call("whatsapp_status", .null).get()
        #expect(status["account"] == ["wid": "15551234567@s.whatsapp.net", "lid": "99887766@lid", "pushname": "Ada", "platform": "android"])
        #expect(status["authenticated"] == .bool(true))
        #expect(status["state"] == "disconnected")
        try Schema.validate(.object(status), against: StatusMethod.outputSchema)
    }

    @Test func callsWithBadInputFailCleanly() async throws {
        let temp = TemporaryDirectory()
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment())
        defer { client.close() }
        let cases: [(String, String?, String)] = [
            ("whatsapp_status", "{", "params are not valid JSON"),
            ("whatsapp_status", "[]", "arguments must be a JSON object"),
            ("whatsapp_status", #"{"x":1}"#, "unknown argument 'x'"),
            ("no_such_method", "{", "unknown method 'no_such_method'"),
            ("", nil, "unknown method ''"),
        ]
        for (method, arguments, message) in cases {
            let result = await client.call(method, argumentsJSON: arguments)
            guard case .failure(let error) = result else { Issue.record("\(method) \(arguments ?? "nil") succeeded"); continue }
            #expect(error.code == .invalidRequest)
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
        #expect(try await client.call("whatsapp_status", argumentsJSON: "  ").get()["state"] == "stopped")
    }

    @Test func aClosedClientRefusesCalls() async throws {
        let temp = TemporaryDirectory()
        let client = try WauseClient(config: ClientConfig(dataDirectory: temp.path), environment: testEnvironment())
        client.close()
        client.close()
        guard case .failure(let error) = await client.call("whatsapp_status", .null) else { Issue.record("closed client answered"); return }
        #expect(error.code == .invalidRequest)
    }

    @Test func severalClientsLiveSideBySideEachWithItsOwnDirectory() throws {
        let a = TemporaryDirectory(), b = TemporaryDirectory()
        let first = try WauseClient(config: ClientConfig(dataDirectory: a.path), environment: testEnvironment())
        let second = try WauseClient(config: ClientConfig(dataDirectory: b.path), environment: testEnvironment())
        defer { first.close(); second.close() }
        #expect(try first.statusObject()["data_dir"] == .string(a.path))
        #expect(try second.statusObject()["data_dir"] == .string(b.path))
        do {
            _ = try WauseClient(config: ClientConfig(dataDirectory: a.path), environment: testEnvironment())
            Issue.record("a second client opened a directory in use")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }

    @Test func configTextErrors() {
        for text in [nil, "", "{", "[]", #"{"data_dir": 1}"#] as [String?] {
            do {
                _ = try WauseClient(configJSON: text, environment: testEnvironment())
                Issue.record("accepted \(text ?? "nil")")
            } catch {
                #expect(error.code == .invalidRequest)
            }
        }
    }

    @Test func errorCodesMatchTheCHeader() {
        // include/wause.h numbers WAUSE_ERR_* in this order; never renumber.
        let expected = ["invalid_request", "not_found", "ambiguous_recipient", "whatsapp_not_paired", "not_connected",
                        "pairing_failed", "rate_limited", "edit_window_expired", "media_too_large", "forbidden_path",
                        "timeout", "client_outdated", "logged_out", "internal"]
        #expect(WauseError.Code.allCases.map(\.rawValue) == expected)
        for (index, name) in expected.enumerated() {
            #expect(WauseError.Code(rawValue: name)?.cValue == Int32(index + 1))
            #expect(WauseError.Code(cValue: Int32(index + 1))?.rawValue == name)
        }
        #expect(WauseError.Code(cValue: 0) == nil)
    }
}

@Suite struct QRCodeTests {
    @Test func encodesAPairingStringIntoASquareMatrix() throws {
        let code = try QRCode(encoding: "https://wa.me/settings/linked_devices#2@abc,def,ghi,jkl,1")
        #expect(code.size >= 21 && (code.size - 17) % 4 == 0)
        #expect(code.modules.count == code.size * code.size)
        // Finder pattern corners are dark.
        #expect(code.isDark(row: 0, column: 0) && code.isDark(row: 0, column: code.size - 1) && code.isDark(row: code.size - 1, column: 0))
        #expect(throws: WauseError.self) { try QRCode(encoding: "") }
    }

    @Test func pngHasSignatureHeaderAndDimensions() throws {
        let code = try QRCode(encoding: "hello")
        let png = try code.png(scale: 4)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        let side = (code.size + 2 * QRCode.quietZone) * 4
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == side)
        #expect(Array(png.suffix(8).prefix(4)) == Array("IEND".utf8))
    }

    @Test func svgAndTerminalRenderings() throws {
        let code = try QRCode(encoding: "hello")
        let svg = code.svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>"))
        let text = code.terminalText()
        #expect(text.contains("█") || text.contains("▀"))
        #expect(text.split(separator: "\n").count == (code.size + 4 + 1) / 2)
    }
}
