import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// OpenTelemetry tracing (docs/tracing.md): a real `tern serve --otlp-endpoint` exporting
    /// OTLP/HTTP (JSON encoding) to a loopback receiver, real replicas of fixture
    /// `query-headers` (it returns the `headers` it was given). The receiver
    /// (`Tests/fixtures/otlp-receiver/receiver.py`) stands in for an OpenTelemetry Collector,
    /// which is not installed here: it only stores what it gets, every check is on Tern's export.
    @Suite(.serialized)
    struct Tracing {
        /// One span of an OTLP JSON export, with the fields the tests check.
        struct ExportedSpan {
            var traceID: String
            var spanID: String
            var parentSpanID: String
            var name: String
            var kind: Int
            var start: UInt64
            var end: UInt64
            var attributes: [String: String]
        }

        /// A running receiver: its process, port and output file.
        final class Receiver {
            let process = Process()
            let port: Int
            let output: URL

            init(in directory: URL) async throws {
                let portFile = directory.appendingPathComponent("otlp-port")
                output = directory.appendingPathComponent("otlp-export.jsonl")
                process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
                process.arguments = [
                    TestEnvironment.fixture("otlp-receiver").appendingPathComponent("receiver.py").path, portFile.path,
                    output.path,
                ]
                try process.run()
                let deadline = Date().addingTimeInterval(20)
                while (try? String(contentsOf: portFile, encoding: .utf8)) == nil {
                    guard Date() < deadline, process.isRunning else { throw TestFailure("the OTLP receiver did not start") }
                    try await Task.sleep(for: .milliseconds(50))
                }
                port = try #require(Int(String(contentsOf: portFile, encoding: .utf8)))
            }

            /// Every export received so far: (content type, spans).
            func exports() throws -> [(contentType: String?, spans: [ExportedSpan])] {
                guard let text = try? String(contentsOf: output, encoding: .utf8) else { return [] }
                return try text.split(separator: "\n").map { line in
                    let record = try jsonObject(String(line))
                    return (record["content_type"] as? String, try Tracing.spans(of: record["body"] as? [String: Any] ?? [:]))
                }
            }

            deinit {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
        }

        /// An id as lower-case hex: OTLP's JSON encoding writes hex, plain protobuf JSON base64.
        static func hexID(_ value: Any?) -> String {
            guard let text = value as? String, !text.isEmpty else { return "" }
            if text.allSatisfy(\.isHexDigit), text.count == 16 || text.count == 32 { return text.lowercased() }
            guard let data = Data(base64Encoded: text) else { return text }
            return data.map { String(format: "%02x", $0) }.joined()
        }

        /// A number that protobuf JSON may write as a string (64-bit integers) or a number.
        static func integer(_ value: Any?) -> UInt64 {
            if let text = value as? String { return UInt64(text) ?? 0 }
            return (value as? NSNumber)?.uint64Value ?? 0
        }

        /// The spans of one `ExportTraceServiceRequest` in JSON.
        static func spans(of body: [String: Any]) throws -> [ExportedSpan] {
            var result: [ExportedSpan] = []
            for resource in body["resourceSpans"] as? [[String: Any]] ?? [] {
                for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        var attributes: [String: String] = [:]
                        for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                            let value = attribute["value"] as? [String: Any] ?? [:]
                            let text = value["stringValue"].map { "\($0)" } ?? value["intValue"].map { "\(integer($0))" } ?? ""
                            attributes[attribute["key"] as? String ?? ""] = text
                        }
                        let kindNames = ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"]
                        let kind = (span["kind"] as? Int) ?? (span["kind"] as? String).flatMap { kindNames.firstIndex(of: $0) } ?? -1
                        result.append(
                            ExportedSpan(
                                traceID: hexID(span["traceId"]), spanID: hexID(span["spanId"]),
                                parentSpanID: hexID(span["parentSpanId"]), name: span["name"] as? String ?? "", kind: kind,
                                start: integer(span["startTimeUnixNano"]), end: integer(span["endTimeUnixNano"]),
                                attributes: attributes))
                    }
                }
            }
            return result
        }

        @Test("a request's server, queue, replica and predict spans reach the collector in the client's trace, and the predictor gets the replica span's traceparent")
        func spansOfARequest() async throws {
            let server = try TestServer()
            let receiver = try await Receiver(in: server.home)
            try await server.start(extraArguments: [
                "--otlp-endpoint", "http://127.0.0.1:\(receiver.port)", "--otlp-encoding", "json",
            ])
            defer { _ = try? FileManager.default.removeItem(at: server.home) }
            try deployFixture("query-headers", on: server)
            try await server.waitUntilLive("query-headers")

            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let clientSpan = "00f067aa0ba902b7"
            let answer = try await server.request(
                "/query-headers", body: Data(#"{"x": 1}"#.utf8),
                headers: [("traceparent", "00-\(traceID)-\(clientSpan)-01"), ("X-Request-ID", "trace-test-1")])
            #expect(answer.status == 200, "\(answer.body)")
            let given = try #require(try jsonObject(answer.body)["headers"] as? [String: Any])
            let propagated = try #require(given["traceparent"] as? String, "\(given)")
            let parts = propagated.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[0] == "00" && parts[1] == traceID && parts[3] == "01", "\(propagated)")
            #expect(parts.count == 4 && parts[2] != clientSpan && parts[2].count == 16)

            // A second request without trace context starts a trace of its own.
            let untraced = try await server.request("/query-headers", body: Data(#"{"x": 2}"#.utf8), headers: [("X-Request-ID", "trace-test-2")])
            #expect(untraced.status == 200)

            var spans: [ExportedSpan] = []
            try await server.waitUntil(timeout: 30, "both requests' spans exported") {
                spans = try receiver.exports().flatMap(\.spans)
                return spans.filter { $0.name == "tern.predict" }.count >= 2
            }
            let exports = try receiver.exports()
            #expect(!exports.isEmpty && exports.allSatisfy { $0.contentType?.hasPrefix("application/json") == true })

            let ours = spans.filter { $0.traceID == traceID }
            let root = try #require(ours.first { $0.name == "POST /query-headers" }, "\(spans.map(\.name))")
            let queue = try #require(ours.first { $0.name == "tern.queue" })
            let replica = try #require(ours.first { $0.name == "tern.replica" })
            let predict = try #require(ours.first { $0.name == "tern.predict" })
            #expect(ours.count == 4)
            #expect(root.parentSpanID == clientSpan)
            #expect(root.kind == 2 && replica.kind == 3 && queue.kind == 1 && predict.kind == 1)
            #expect(queue.parentSpanID == root.spanID && replica.parentSpanID == root.spanID)
            #expect(predict.parentSpanID == replica.spanID)
            #expect(parts.count == 4 && parts[2] == replica.spanID, "the predictor's traceparent names the replica span")
            #expect(root.attributes["http.response.status_code"] == "200")
            #expect(root.attributes["tern.request_id"] == "trace-test-1")
            #expect(root.attributes["tern.api"] == "query-headers")
            #expect(root.attributes["http.request.method"] == "POST")
            // Nesting in time: queue, then replica, inside the server span; predict inside replica.
            #expect(root.start <= queue.start && queue.end <= replica.start + 1_000_000)
            #expect(replica.start <= predict.start && predict.end <= replica.end, "\(replica) \(predict)")
            #expect(replica.end <= root.end && root.end > root.start)
            #expect(predict.attributes["tern.predict_us"].flatMap(Int.init) != nil)

            let other = spans.filter { $0.traceID != traceID && $0.name == "POST /query-headers" }
            let second = try #require(other.first { $0.attributes["tern.request_id"] == "trace-test-2" })
            #expect(second.parentSpanID == "")
            #expect(second.traceID.count == 32 && second.traceID != String(repeating: "0", count: 32))
            #expect(try await server.stop() == 0)
        }
    }
}
