import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Paths a test needs: the package root, the built `tern` binary and the Python for replicas.
public enum TestEnvironment {
    /// The repository root (found from this file's path).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// `$TERN_BINARY`, else `.build/debug/tern`.
    public static var ternBinary: String {
        ProcessInfo.processInfo.environment["TERN_BINARY"]
            ?? packageRoot.appendingPathComponent(".build/debug/tern").path
    }

    /// `$TERN_TEST_PYTHON`, else `.venv/bin/python` when it exists, else `python3`.
    public static var python: String {
        if let explicit = ProcessInfo.processInfo.environment["TERN_TEST_PYTHON"] { return explicit }
        let venv = packageRoot.appendingPathComponent(".venv/bin/python").path
        return FileManager.default.fileExists(atPath: venv) ? venv : "python3"
    }

    /// A fixture folder under `Tests/fixtures`.
    public static func fixture(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/fixtures/\(name)")
    }

    /// A new, empty folder under the system temporary directory.
    public static func makeTemporaryDirectory(prefix: String = "tern-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The result of running a command.
public struct CommandResult: Sendable {
    /// Exit status.
    public var status: Int32
    /// Standard output.
    public var stdout: String
    /// Standard error.
    public var stderr: String
}

/// Runs `executable` with `arguments` to completion and captures its output.
public func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently with the process so neither fills up.
    let outData = Data.Buffer()
    let errData = Data.Buffer()
    let group = DispatchGroup()
    for (pipe, buffer) in [(out, outData), (err, errData)] {
        group.enter()
        DispatchQueue.global().async {
            buffer.set(pipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
    }
    process.waitUntilExit()
    group.wait()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
        stderr: String(decoding: errData.data, as: UTF8.self))
}

extension Data {
    /// A reference box used to collect pipe output from another thread.
    final class Buffer: @unchecked Sendable {
        private let lock = NSLock()
        private var value = Data()
        func set(_ data: Data) { lock.withLock { value = data } }
        var data: Data { lock.withLock { value } }
    }
}

/// A real `tern serve` for one test: a temporary `TERN_HOME`, free ports, the built binary and
/// the test Python. Stop it with ``stop()`` (SIGTERM, then waits for the process to exit).
public final class TestServer: @unchecked Sendable {
    /// The temporary home.
    public let home: URL
    /// Gateway port.
    public let port: Int
    /// Control-plane port.
    public let controlPort: Int
    /// The server process.
    public private(set) var process: Process?

    /// Gateway base URL.
    public var gatewayURL: String { "http://127.0.0.1:\(port)" }

    /// Creates (does not start) a server with a fresh home.
    public init(home: URL? = nil) throws {
        self.home = home ?? FileManager.default.temporaryDirectory.appendingPathComponent("tern-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.home, withIntermediateDirectories: true)
        port = TestEnvironment.freePort()
        controlPort = TestEnvironment.freePort()
    }

    /// Starts `tern serve` (with `--cpus 64` before `extraArguments`) and waits (up to 30 s) until
    /// `server.json` names the new process.
    /// Calling it again after ``stop()`` restarts the server with the same home and ports; its
    /// output is appended to `HOME/serve-output.log`. `environment` is added to this process's
    /// for the server (e.g. the test-only `TERN_TEST_CRASH_AT`).
    public func start(extraArguments: [String] = [], environment: [String: String] = [:]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.ternBinary)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.arguments =
            [
                "serve", "--home", home.path, "--port", String(port), "--control-port", String(controlPort),
                "--python", TestEnvironment.python, "--stop-grace-seconds", "3",
                // Replicas' compute.cpu requests share this; the CI machine has 2 cores (10
                // replicas of 200m), too few for suites that keep several APIs. A test of
                // capacity passes its own `--cpus` (the last one wins).
                "--cpus", "64",
            ] + extraArguments
        let log = home.appendingPathComponent("serve-output.log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()  // the child has its own copy
        self.process = process
        let serverFile = home.appendingPathComponent("server.json")
        let deadline = Date().addingTimeInterval(30)
        // A stale server.json (from a server that was killed) names another pid: keep waiting.
        while (try? WireJSON.decoder().decode(ServerInfo.self, from: Data(contentsOf: serverFile)))?.pid
            != process.processIdentifier
        {
            guard process.isRunning else {
                throw TestFailure("tern serve exited: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            guard Date() < deadline else { throw TestFailure("tern serve did not start within 30 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs a `tern` CLI command against this server's home.
    public func tern(_ arguments: String...) throws -> CommandResult {
        try tern(arguments)
    }

    /// Runs a `tern` CLI command against this server's home.
    ///
    /// - Throws: ``TestFailure`` when the server is not running: most commands would then start
    ///   a detached server on the default ports (8888/8889) that outlives the test. Use
    ///   ``runCommand(_:_:environment:directory:)`` for commands that need no server.
    public func tern(_ arguments: [String]) throws -> CommandResult {
        guard let process, process.isRunning else {
            throw TestFailure("tern serve is not running; refusing to run `tern \(arguments.joined(separator: " "))`")
        }
        return try runCommand(TestEnvironment.ternBinary, arguments + ["--home", home.path], environment: ["NO_COLOR": "1"])
    }

    /// `tern get NAME -o json`, decoded.
    public func api(_ name: String) throws -> APIDocument {
        let result = try tern("get", name, "-o", "json")
        guard result.status == 0 else {
            throw TestFailure("`tern get \(name) -o json` exited with \(result.status): \(result.stderr)")
        }
        return try WireJSON.decoder().decode(APIDocument.self, from: Data(result.stdout.utf8))
    }

    /// Waits until `tern get NAME` reports `live` with every requested replica ready.
    public func waitUntilLive(_ name: String, timeout: TimeInterval = 60) async throws {
        try await waitUntil(timeout: timeout, "API \(name) to be live") {
            let api = try self.api(name)
            return api.status == .live && api.readyReplicas >= api.requestedReplicas && api.requestedReplicas > 0
        }
    }

    /// SIGTERM, then waits up to `timeout` for the server to exit; returns its exit status.
    @discardableResult
    public func stop(timeout: TimeInterval = 30) async throws -> Int32 {
        guard let process else { return 0 }
        process.terminate()
        return try await waitForExit(timeout: timeout)
    }

    /// Waits up to `timeout` for the server to exit (after a signal, or `tern down`) and returns
    /// its exit status (the signal number when it was killed by one); SIGKILLs it on timeout.
    @discardableResult
    public func waitForExit(timeout: TimeInterval = 30) async throws -> Int32 {
        guard let process else { return 0 }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("tern serve did not stop within \(timeout) s")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        self.process = nil
        return process.terminationStatus
    }

    /// Sends a request to the gateway and returns (status, headers, body).
    public func request(
        _ path: String, method: String = "POST", body: Data? = nil, contentType: String? = "application/json",
        headers extraHeaders: [(String, String)] = []
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: gatewayURL + path)
        request.method = .init(rawValue: method)
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return (Int(response.status.code), headers, String(buffer: bytes))
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes.
    public func waitUntil(
        timeout: TimeInterval = 60, _ what: String, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try await !condition() {
            guard Date() < deadline else { throw TestFailure("timed out after \(timeout) s waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Process ids of every process whose parent chain leads to the server (read from /proc).
    public func descendantPIDs() -> Set<Int32> {
        guard let root = process?.processIdentifier else { return [] }
        return ProcessTree.descendants(of: root)
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A failure inside the test harness.
public struct TestFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates a failure.
    public init(_ description: String) { self.description = description }
}

/// Process-tree queries from /proc.
public enum ProcessTree {
    /// Every live process whose parent chain includes `root`.
    public static func descendants(of root: Int32) -> Set<Int32> {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let ppid = parentPID(of: pid) else { continue }
            parents[pid] = ppid
        }
        var result: Set<Int32> = []
        for pid in parents.keys {
            var current = pid
            while let parent = parents[current], parent > 1 {
                if parent == root { result.insert(pid); break }
                current = parent
            }
        }
        return result
    }

    /// The parent of `pid`, from `/proc/<pid>/stat`.
    public static func parentPID(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// True while `pid` exists and is not a zombie.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z"
    }
}
