import Foundation
import Testing
import TernCore
import TernTesting

// Helpers for the suites that put real replicas under load (autoscaling, backpressure, rolling
// updates, scale to zero, parallelism, shutdown).

/// Runs a `tern` command on a thread outside Swift's cooperative pool: the command blocks until
/// it exits, and load generators running meanwhile need the pool's few threads (2 on a 2-core
/// machine).
func ternInBackground(_ server: TestServer, _ arguments: String...) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try server.tern(arguments) }) }
    }
}

/// `tern get NAME -o json`, decoded, run outside the cooperative pool (see ``ternInBackground``).
func apiInBackground(_ server: TestServer, _ name: String) async throws -> APIDocument {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try server.api(name) }) }
    }
}

/// Writes a project (`tern.yaml` with `yaml`, plus the predictor of fixture `predictorOf`) and
/// deploys it with `tern deploy --timeout 60`; returns the command's result.
func deployProject(
    _ yaml: String, predictorOf fixture: String, on server: TestServer, extraArguments: [String] = []
) async throws -> CommandResult {
    let config = try makeProject(yaml: yaml, predictorOf: fixture, in: server)
    return try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try server.tern(["deploy", config.path, "--timeout", "60"] + extraArguments) })
        }
    }
}

/// Like ``deployProject(_:predictorOf:on:extraArguments:)`` and expects exit 0.
func deployExpectingSuccess(
    _ yaml: String, predictorOf fixture: String, on server: TestServer, extraArguments: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let result = try await deployProject(yaml, predictorOf: fixture, on: server, extraArguments: extraArguments)
    try #require(
        result.status == 0, "tern deploy failed:\n\(result.stdout)\n\(result.stderr)", sourceLocation: sourceLocation)
}

/// The responses that are not 200, as one line each (for failure messages).
func failures(in responses: [LoadResponse]) -> [String] {
    responses.filter { $0.status != 200 }.map(\.summary)
}

/// `{"seconds": s}` for the `slow` fixture.
func sleepBody(_ seconds: Double) -> Data {
    Data(#"{"seconds":\#(seconds)}"#.utf8)
}

/// The `error.kind` of a response body, or nil.
func errorKind(_ response: LoadResponse) -> String? {
    guard let document = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] else {
        return nil
    }
    return (document["error"] as? [String: Any])?["kind"] as? String
}

/// Seconds between two instants.
func seconds(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Double {
    (end - start).inSeconds
}
