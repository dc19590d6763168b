import Foundation
import Testing
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
    }
}
