import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

/// Every end-to-end suite is nested in this one, so the whole module runs one test at a time:
/// each test starts real servers and Python replicas, and parallel runs on a small machine make
/// timings (restart backoff, readiness) unreliable.
@Suite(.serialized)
enum EndToEnd {}

// MARK: - One server per suite

/// The server of the enclosing suite, set by ``SharedServer``.
enum Shared {
    @TaskLocal static var server: TestServer?

    /// The suite's server; fails the test when the suite has no `.sharedServer` trait.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> TestServer {
        try #require(server, "the suite needs the .sharedServer trait", sourceLocation: sourceLocation)
    }
}

/// A suite trait that starts one `tern serve` before the suite's first test and stops it (SIGTERM)
/// after its last; tests reach it through ``Shared/require(sourceLocation:)``.
struct SharedServer: SuiteTrait, TestScoping {
    var extraArguments: [String] = []

    var isRecursive: Bool { false }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> SharedServer? {
        test.isSuite && testCase == nil ? self : nil
    }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try TestServer()
        try await server.start(extraArguments: extraArguments)
        do {
            try await Shared.$server.withValue(server) { try await function() }
        } catch {
            _ = try? await server.stop()
            throw error
        }
        try await server.stop()
        try? FileManager.default.removeItem(at: server.home)
    }
}

extension Trait where Self == SharedServer {
    /// One server for the whole suite, started with `extraArguments` after the harness's own.
    static func sharedServer(_ extraArguments: String...) -> SharedServer {
        SharedServer(extraArguments: extraArguments)
    }
}

// MARK: - Helpers

/// Deploys a fixture of `Tests/fixtures` with `tern deploy` and expects exit 0 (the CLI waits
/// until the API is live).
func deployFixture(
    _ name: String, on server: TestServer, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let path = TestEnvironment.fixture(name).appendingPathComponent("tern.yaml").path
    let result = try server.tern("deploy", path, "--timeout", "60")
    #expect(
        result.status == 0, "tern deploy \(name) failed:\n\(result.stdout)\n\(result.stderr)",
        sourceLocation: sourceLocation)
}

/// The suite's shared server with fixture `name` (an API of the same name) live: deployed by
/// the first test that asks, found live by the others.
func sharedServer(withLive name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestServer {
    let server = try Shared.require(sourceLocation: sourceLocation)
    if (try? server.api(name))?.status != .live {
        try deployFixture(name, on: server, sourceLocation: sourceLocation)
        try await server.waitUntilLive(name)
    }
    return server
}

/// A new folder inside the server's home, for a test's files (removed with the home).
func scratchDirectory(in server: TestServer) throws -> URL {
    let directory = server.home.appendingPathComponent("scratch-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Writes a project folder holding `tern.yaml` (with `yaml` as its text) and the predictor of
/// fixture `predictorOf`; returns the config file.
func makeProject(yaml: String, predictorOf fixture: String, in server: TestServer) throws -> URL {
    let directory = try scratchDirectory(in: server)
    try FileManager.default.copyItem(
        at: TestEnvironment.fixture(fixture).appendingPathComponent("predictor.py"),
        to: directory.appendingPathComponent("predictor.py"))
    let config = directory.appendingPathComponent("tern.yaml")
    try yaml.write(to: config, atomically: true, encoding: .utf8)
    return config
}

/// The JSON object of a response body (fails the test when it is not one).
func jsonObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(value as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
}

/// The `error` object of a Tern error document: `{"error": {"kind", "message", "api"}}`.
func errorObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let document = try jsonObject(text, sourceLocation: sourceLocation)
    return try #require(document["error"] as? [String: Any], "no error object in \(text)", sourceLocation: sourceLocation)
}

/// `value` as compact JSON bytes.
func json(_ value: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
}

/// The replica process ids of an API and every process below them.
func replicaProcesses(of api: APIDocument) -> Set<Int32> {
    var pids = Set(api.replicas.compactMap(\.pid))
    for pid in pids { pids.formUnion(ProcessTree.descendants(of: pid)) }
    return pids
}

/// Waits until none of `pids` is alive (zombies count as gone); returns the survivors.
func survivors(of pids: Set<Int32>, within timeout: TimeInterval = 15) async -> Set<Int32> {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let alive = pids.filter(ProcessTree.isAlive)
        if alive.isEmpty || Date() >= deadline { return alive }
        try? await Task.sleep(for: .milliseconds(100))
    }
}

/// The command line of a process, for failure messages.
func commandLine(of pid: Int32) -> String {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "?" }
    return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
}

/// Every live process whose command line mentions `text` (e.g. a server's home): catches replicas
/// started after pids were recorded.
func processes(mentioning text: String) -> [Int32: String] {
    var found: [Int32: String] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), pid != getpid(), ProcessTree.isAlive(pid) else { continue }
        let command = commandLine(of: pid)
        if command.contains(text) { found[pid] = command }
    }
    return found
}

/// Remembers one value per server, for suites whose tests share one expensive step (a deploy)
/// but must each be runnable alone.
actor PerServer<Value: Sendable> {
    private var values: [String: Value] = [:]

    /// The value for `server`, made by `make` the first time.
    func value(for server: TestServer, _ make: @Sendable () async throws -> Value) async rethrows -> Value {
        if let value = values[server.home.path] { return value }
        let value = try await make()
        values[server.home.path] = value
        return value
    }
}
