import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `tern logs -f` keeps following one API's log while its replicas come and go.
    @Suite(.serialized, .sharedServer())
    struct LogsFollow {
        @Test("tern logs -f -o json follows across a SIGKILLed replica and a rolling update: the new replicas' lines arrive as records")
        func followSurvivesRestartsAndRollouts() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let first = try #require(try server.api("echo").replicas.first)
            let follower = Process()
            follower.executableURL = URL(fileURLWithPath: TestEnvironment.ternBinary)
            follower.arguments = ["logs", "echo", "-f", "-o", "json", "--tail", "0", "--home", server.home.path]
            let output = Pipe()
            follower.standardOutput = output
            follower.standardError = FileHandle.nullDevice
            let collected = Collected()
            output.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData) }
            try follower.run()
            defer {
                follower.terminate()
                output.fileHandleForReading.readabilityHandler = nil
            }
            try await Task.sleep(for: .milliseconds(500))  // the follower is connected

            kill(try #require(first.pid), SIGKILL)
            try await server.waitUntil(timeout: 30, "echo back after the kill") {
                let api = try server.api("echo")
                return api.status == .live && api.replicas.first?.restarts == 1
            }
            #expect(try server.tern("refresh", "echo").status == 0)
            try await server.waitUntil(timeout: 60, "echo refreshed") {
                let api = try server.api("echo")
                return api.status == .live && api.replicas.count == 1 && api.replicas.first?.id != first.id
                    && api.replicas.first?.state == .ready
            }
            let newID = try #require(try server.api("echo").replicas.first?.id)
            var records: [[String: Any]] = []
            try await server.waitUntil(timeout: 30, "the follower to print the new replica's readiness") {
                let text = String(decoding: collected.bytes, as: UTF8.self)
                records = text.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                return records.contains { ($0["text"] as? String) == "replica \(newID) is ready" }
            }
            #expect(follower.isRunning, "the follower ended")
            let texts = records.compactMap { $0["text"] as? String }
            // The restart of the killed replica (a warning) and the rollout, in one unbroken stream.
            #expect(records.contains { ($0["text"] as? String)?.hasPrefix("replica \(first.id) ") == true && $0["level"] as? String == "warning" }, "\(texts)")
            #expect(texts.contains { $0.hasPrefix("revision ") && $0.hasSuffix(" rolled out") }, "\(texts)")
            #expect(records.allSatisfy { $0["api"] as? String == "echo" && $0["time"] is String })
        }
    }
}

/// Bytes a pipe's reader thread appends while a test reads them.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var bytes: Data { lock.withLock { data } }
}
