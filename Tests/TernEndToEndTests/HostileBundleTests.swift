import Foundation
import Testing
import TernClient
import TernCore
import TernTesting

extension EndToEnd {
    /// Hostile bundles uploaded to a real `tern serve` with ``TernClient`` (what `tern deploy`
    /// uses): each answers 422 `invalid_bundle` with a message naming the entry and the limit,
    /// nothing is written outside the bundles folder (nor in it), and the server keeps answering
    /// (docs/reliability.md, Hostile bundles). The zips are built byte by byte (``RawZip``):
    /// the CLI's own bundler cannot make them.
    @Suite(.serialized)
    struct HostileBundles {
        /// Every path under `root` but the server's own changing files (database, logs).
        private func tree(_ root: URL) -> [String] {
            ((FileManager.default.enumerator(atPath: root.path)?.allObjects as? [String]) ?? [])
                .filter { !$0.hasPrefix("tern.db") && !$0.hasPrefix("logs") && $0 != "serve-output.log" }.sorted()
        }

        @Test("hostile bundles are refused with 422 invalid_bundle naming the entry, and nothing is written")
        func hostileBundlesAreRefused() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try await server.start()
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let client = TernClient(controlURL: "http://127.0.0.1:\(server.controlPort)", token: token)
            let escape = "tern-hostile-\(UUID().uuidString.prefix(8))"
            let outside = server.home.deletingLastPathComponent().appendingPathComponent(escape).path
            let absolute = "/tmp/" + escape + "-abs"
            let config = RawZip.Entry.file("tern.yaml", "- name: h\n  kind: RealtimeAPI\n  predictor: {type: python, path: p.py}\n")
            var pastTheEnd = RawZip.build([config])
            let record = try #require(pastTheEnd.firstRange(of: Data([0x50, 0x4B, 0x01, 0x02]))).lowerBound
            pastTheEnd[record + 45] = 0x7F  // local header offset 0x7F000000, far past the end
            let cases: [(String, Data, String)] = [
                ("traversal", RawZip.build([config, .file("../../" + escape, "owned")]), "bundle entry ../../\(escape) contains ..; paths must stay inside the project"),
                ("absolute", RawZip.build([config, .file(absolute, "owned")]), "bundle entry \(absolute) has an absolute or Windows path"),
                ("FIFO", RawZip.build([config, .file("pipe", "", mode: 0o010644)]), "bundle entry pipe is a FIFO (named pipe); only regular files and folders are allowed"),
                ("write through a link", RawZip.build([config, .symlink("tmp", to: "/tmp"), .file("tmp/" + escape + "-abs", "owned")]), "bundle entry tmp is a symbolic link; only regular files and folders are allowed"),
                ("NUL in a name", RawZip.build([config, RawZip.Entry(name: Array("p.py\u{0}.txt".utf8), data: [0x31])]), "bundle entry p.py\\x00.txt has a control character in its path"),
                ("case collision", RawZip.build([config, .file("TERN.yaml", "x")]), "bundle entry TERN.yaml and tern.yaml differ only in case or Unicode normalisation"),
                ("100,000 entries", RawZip.build([config] + (1..<100_000).map { .file("f/\($0)") }), "the bundle has 100000 entries; the limit is 20000 entries"),
                ("declared 4 GiB", RawZip.build([config, RawZip.Entry(name: Array("big".utf8), data: [3, 0], method: 8, uncompressedSize: .max)]), "the bundle expands to more than 1073741824 bytes (at entry big, which declares 4294967295 bytes)"),
                ("shared data", RawZip.build([config, .file("k0", "kernel")] + (1...50).map { RawZip.Entry(name: Array("k\($0)".utf8), sharesDataWith: 1) }), "overlaps bundle entry k"),
                ("offset past the end (crashed tern serve before)", pastTheEnd, "bundle entry tern.yaml has no local header where the central directory says (damaged archive)"),
            ]
            let before = tree(server.home)
            for (name, zip, message) in cases {
                let clock = ContinuousClock()
                let start = clock.now
                do {
                    let result = try await client.deploy(bundle: zip, configPath: "tern.yaml")
                    Issue.record("\(name): deployed \(result), expected a refusal")
                } catch let error as ClientError {
                    #expect(error.status == 422, "\(name)")
                    #expect(error.kind == .invalidBundle, "\(name)")
                    #expect(error.message.contains(message), "\(name): \(error.message)")
                }
                print("[hostile] \(name) (\(zip.count) bytes): 422 in \(clock.now - start)")
            }
            #expect(tree(server.home) == before)
            #expect(tree(server.home.appendingPathComponent("bundles")) == [])
            #expect(!FileManager.default.fileExists(atPath: outside))
            #expect(!FileManager.default.fileExists(atPath: absolute))
            // Still up and answering.
            #expect(try await client.listAPIs().isEmpty)
            #expect(server.process?.isRunning == true)
            #expect(try await server.stop() == 0)
        }
    }
}
