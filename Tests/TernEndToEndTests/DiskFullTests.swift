import Foundation
import Testing
import TernClient
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// Whether this process may mount a tmpfs (it runs as root): the full-disk test needs a small
/// real file system of its own to fill, and skips (saying so) where it cannot have one.
private let canMountTmpfs = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

extension EndToEnd {
    /// Fault (d) of docs/reliability.md: `TERN_HOME` on a full file system (a real 24 MiB tmpfs,
    /// filled with one file), with an API serving under load.
    @Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: canMountTmpfs, "needs root to mount a tmpfs for TERN_HOME"))
    struct DiskFull {
        @Test(
            "TERN_HOME's disk full: a deploy is refused with 507 disk_full naming TERN_HOME and what to do, no bundle or staging folder is left, the serving API answers every request; once space is freed the same deploy succeeds"
        )
        func deployOnAFullDiskIsRefusedCleanly() async throws {
            let home = FileManager.default.temporaryDirectory.appendingPathComponent("tern-full-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", home.path])
            try #require(mounted.status == 0, "mount: \(mounted.stderr)")
            defer {
                _ = try? runCommand("/bin/umount", ["-l", home.path])
                try? FileManager.default.removeItem(at: home)
            }
            let server = try TestServer(home: home)
            try await server.start()
            try deployFixture("echo", on: server)
            let load = LoadGenerator(url: server.gatewayURL + "/echo", clients: 2, body: Data(#"{"a": 1}"#.utf8))

            // A second project with a 3 MiB model, outside TERN_HOME.
            let project = FileManager.default.temporaryDirectory.appendingPathComponent("tern-full-project-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: project) }
            try FileManager.default.copyItem(
                at: TestEnvironment.fixture("echo").appendingPathComponent("predictor.py"), to: project.appendingPathComponent("predictor.py"))
            try "- name: second\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n".write(
                to: project.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            // Incompressible (xorshift64), so the bundle stays 3 MiB.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            let model = Data((0..<(3 << 20)).map { _ in
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            })
            try model.write(to: project.appendingPathComponent("model.bin"))

            let bundles = home.appendingPathComponent("bundles")
            let bundlesBefore = try FileManager.default.contentsOfDirectory(atPath: bundles.path).sorted()
            // Fill the file system: dd stops at ENOSPC.
            let fill = home.appendingPathComponent("fill")
            _ = try runCommand("/bin/dd", ["if=/dev/zero", "of=\(fill.path)", "bs=1M"])
            let refused = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "60")
            #expect(refused.status == 1, "\(refused.stdout)\n\(refused.stderr)")
            #expect(
                refused.stderr.contains("the disk of TERN_HOME (\(home.path)) is full, so this request was not carried out"),
                "\(refused.stderr)")
            #expect(refused.stderr.contains("Free space there"), "\(refused.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: bundles.path).sorted() == bundlesBefore, "a bundle or staging folder was left")
            // The status and kind on the wire, from the control plane itself.
            let token = try String(contentsOf: home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let client = TernClient(controlURL: "http://127.0.0.1:\(server.controlPort)", token: token)
            do {
                _ = try await client.deploy(bundle: try ProjectBundler(directory: project).makeBundle(), configPath: "tern.yaml")
                Issue.record("a deploy on a full disk succeeded")
            } catch let error as ClientError {
                #expect(error.status == 507 && error.kind == .diskFull, "\(error)")
            }

            try FileManager.default.removeItem(at: fill)
            let accepted = try server.tern("deploy", project.appendingPathComponent("tern.yaml").path, "--timeout", "60")
            #expect(accepted.status == 0, "\(accepted.stdout)\n\(accepted.stderr)")
            let answer = try await server.request("/second", body: Data(#"{"b": 2}"#.utf8))
            #expect(answer.status == 200 && answer.body == #"{"b":2}"#, "\(answer)")

            let responses = await load.stop()
            #expect(responses.count > 20, "load ran: \(responses.count)")
            #expect(responses.allSatisfy { $0.status == 200 }, "\(Dictionary(grouping: responses, by: \.status).mapValues(\.count))")
            #expect(try await server.stop() == 0)
        }
    }
}
