import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import TernCore
import TernTesting

extension EndToEnd {
    /// Options of `tern serve` as a user types them.
    @Suite(.serialized)
    struct ServeOptions {
        /// `to` relative to `from` (both absolute), e.g. `.venv/bin/python` or `../x/bin/python`.
        private func relativePath(of to: String, from: String) -> String {
            let target = URL(fileURLWithPath: to).standardizedFileURL.pathComponents
            let base = URL(fileURLWithPath: from).standardizedFileURL.pathComponents
            var common = 0
            while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
            let ups = Array(repeating: "..", count: base.count - common)
            let path = (ups + target[common...]).joined(separator: "/")
            return path.contains("/") ? path : "./" + path
        }

        @Test("tern serve --python with a relative path (as in `tern up --python .venv/bin/python`) starts replicas")
        func relativePythonPath() async throws {
            let python = TestEnvironment.python
            try #require(python.hasPrefix("/"), "the test Python must be an absolute path: \(python)")
            let relative = relativePath(of: python, from: FileManager.default.currentDirectoryPath)
            let server = try TestServer()
            // The later --python wins over the harness's absolute one.
            try await server.start(extraArguments: ["--python", relative])
            defer { try? FileManager.default.removeItem(at: server.home) }
            try deployFixture("echo", on: server)
            let api = try server.api("echo")
            #expect(api.status == .live, "--python \(relative): \(api.status.rawValue) \(api.message ?? "")")
            let answer = try await server.request("/echo", body: Data(#"{"a":1}"#.utf8))
            #expect(answer.status == 200)
            #expect(try await server.stop() == 0)
        }

        @Test("tern serve runs --event-loops loop threads and raises its open-file soft limit to the hard limit")
        func eventLoopsAndFileLimit() async throws {
            let server = try TestServer()
            // The server inherits a soft limit below the hard one (half of it: room for the other
            // suites' descriptors meanwhile), so the check below sees the server raise it.
            var original = rlimit()
            try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &original) == 0)
            var lowered = original
            if lowered.rlim_cur == lowered.rlim_max { lowered.rlim_cur = original.rlim_max / 2 }
            try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
            var failure: (any Error)?
            do { try await server.start(extraArguments: ["--event-loops", "2"]) } catch { failure = error }
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
            if let failure { throw failure }
            defer { try? FileManager.default.removeItem(at: server.home) }
            let pid = try #require(server.process?.processIdentifier)
            // NIO names its loop threads NIO-SGLTN-<group>-#<index>; threads a loop starts inherit
            // its name, so distinct names count the loops.
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
            let names = Set(tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .filter { $0.hasPrefix("NIO-SGLTN-") })
            #expect(names.count == 2, "loop threads: \(names.sorted())")
            let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
            let openFiles = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
            let values = openFiles.split(separator: " ").dropFirst(3).prefix(2).map(String.init)
            let hard = original.rlim_max == rlim_t.max ? "unlimited" : String(original.rlim_max)
            #expect(values == [hard, hard], "inherited soft limit \(lowered.rlim_cur): \(openFiles)")
            #expect(try await server.stop() == 0)
        }
    }
}
