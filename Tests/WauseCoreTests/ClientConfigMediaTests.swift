import Testing
import WauseCore
import WauseSupport

/// The media keys (issue 13 "Definitions"): their defaults, the JSON forms (arrays and numbers),
/// the text forms of flags and `WAUSE_*` variables, and a clear `invalid_request` for bad values.
@Suite struct ClientConfigMediaTests {
    @Test func defaults() throws {
        let config = try ClientConfig(json: ["data_dir": "/srv/bot"])
        #expect(config.mediaDirectories == ["/srv/bot/outbox-media", ClientConfig.systemTemporaryDirectory()])
        #expect(config.mediaMaxBytes == 64 << 20)
        #expect(config.mediaAutoDownload == .never)
        #expect(config.mediaAutoDownloadMaxBytes == 16 << 20)
        #expect(config.mediaCAFile == nil)
        #expect(config.mediaBlockedExtensions.isSuperset(of: ["exe", "bat", "scr", "js", "cmd", "com", "msi", "vbs", "ps1", "jar", "apk"]))
    }

    @Test func jsonForms() throws {
        let config = try ClientConfig(json: [
            "data_dir": "/srv/bot", "media_dirs": ["/srv/out,with,commas", "/tmp"], "media_max_bytes": 1_000_000,
            "media_auto_download": ["image", "ptt"], "media_auto_download_max_bytes": "5000", "media_ca_file": "/srv/ca.pem",
            "media_blocked_extensions": [".EXE", "sh"],
        ])
        #expect(config.mediaDirectories == ["/srv/out,with,commas", "/tmp"])
        #expect(config.mediaMaxBytes == 1_000_000)
        #expect(config.mediaAutoDownload == .only([.image, .voice]))
        #expect(config.mediaAutoDownloadMaxBytes == 5000)
        #expect(config.mediaCAFile == "/srv/ca.pem")
        #expect(config.mediaBlockedExtensions == ["exe", "sh"])
        #expect(try ClientConfig(json: ["data_dir": "/d", "media_auto_download": "all"]).mediaAutoDownload == .all)
        #expect(try ClientConfig(json: ["data_dir": "/d", "media_auto_download": "none"]).mediaAutoDownload == .never)
        // An empty list means no directory: nothing can be sent from the file system.
        #expect(try ClientConfig(json: ["data_dir": "/d", "media_dirs": []]).mediaDirectories == [])
    }

    @Test func environmentForms() throws {
        let variables = ["WAUSE_MEDIA_DIRS": "/a, /b/c", "WAUSE_MEDIA_MAX_BYTES": "2048", "WAUSE_MEDIA_AUTO_DOWNLOAD": "video,document"]
        let config = try ClientConfig(json: ["data_dir": "/d"], variable: { variables[$0] })
        #expect(config.mediaDirectories == ["/a", "/b/c"])
        #expect(config.mediaMaxBytes == 2048)
        #expect(config.mediaAutoDownload == .only([.video, .document]))
        #expect(config.mediaAutoDownload.covers(.video, size: 10, maxBytes: config.mediaAutoDownloadMaxBytes))
        #expect(!config.mediaAutoDownload.covers(.image, size: 10, maxBytes: config.mediaAutoDownloadMaxBytes))
        #expect(!config.mediaAutoDownload.covers(.video, size: 1 << 30, maxBytes: config.mediaAutoDownloadMaxBytes))
    }

    @Test(arguments: [
        ["media_dirs": "relative/dir"], ["media_dirs": ["/ok", 3]], ["media_dirs": "/srv/../etc"],
        ["media_max_bytes": 0], ["media_max_bytes": "lots"], ["media_max_bytes": .int(3 << 30)],
        ["media_auto_download": "images"], ["media_auto_download_max_bytes": -1],
        ["media_ca_file": "ca.pem"], ["media_blocked_extensions": "exe,b a t"],
    ] as [JSONObject])
    func badValuesNameTheKey(_ extra: JSONObject) {
        var object: JSONObject = ["data_dir": "/d"]
        for (key, value) in extra { object[key] = value }
        do {
            _ = try ClientConfig(json: .object(object))
            Issue.record("accepted \(extra)")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains(extra.keys.first!), "\(error.message)")
        }
    }
}
