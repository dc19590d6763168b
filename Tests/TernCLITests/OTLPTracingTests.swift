import ArgumentParser
import Testing
import TernTracing

@testable import TernCLI

/// `--otlp-endpoint` values as OTLP/HTTP traces URLs (OTLPTracing.tracesURL).
@Suite struct OTLPTracingTests {
    @Test(arguments: [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        ("https://collector.example:443", "https://collector.example:443/v1/traces"),
        ("HTTP://Collector:4318", "http://Collector:4318/v1/traces"),
        ("http://127.0.0.1:4318/custom/traces", "http://127.0.0.1:4318/custom/traces"),
    ])
    func anEndpointWithoutAPathGetsTheTracesPath(endpoint: String, url: String) throws {
        #expect(try OTLPTracing.tracesURL(endpoint) == url)
    }

    @Test(arguments: ["127.0.0.1:4318", "grpc://127.0.0.1:4317", "http://", "http:///v1/traces", "http://a b:1", ""])
    func anEndpointThatIsNotAnHTTPURLIsRefused(endpoint: String) {
        #expect(throws: OTLPTracing.SetupError.self) { try OTLPTracing.tracesURL(endpoint) }
    }

    @Test func makingTheExporterChecksTheEndpoint() throws {
        #expect(throws: OTLPTracing.SetupError.self) { try OTLPTracing.make(endpoint: "udp://x") }
        // A good endpoint makes the tracer without contacting it (nothing is sent before a span ends).
        _ = try OTLPTracing.make(endpoint: "http://127.0.0.1:4318", encoding: .json)
    }

    @Test func ternServeRefusesABadEndpointOrEncodingSayingWhatIsAllowed() throws {
        #expect(try ServerOptions.parse(["--otlp-endpoint", "http://127.0.0.1:4318", "--otlp-encoding", "json"]).otlpEncodingChoice == .json)
        #expect(try ServerOptions.parse([]).otlpEndpoint == nil)
        do {
            _ = try ServerOptions.parse(["--otlp-endpoint", "grpc://127.0.0.1:4317"])
            Issue.record("a grpc:// endpoint was accepted")
        } catch {
            #expect(ServerOptions.message(for: error).contains("--otlp-endpoint must be an http:// or https:// URL"), "\(ServerOptions.message(for: error))")
        }
        do {
            _ = try ServerOptions.parse(["--otlp-endpoint", "http://127.0.0.1:4318", "--otlp-encoding", "xml"])
            Issue.record("encoding xml was accepted")
        } catch {
            #expect(ServerOptions.message(for: error).contains("expected one of: protobuf, json"), "\(ServerOptions.message(for: error))")
        }
    }

    @Test func theTracingOptionsAreSavedForTernUp() throws {
        let options = try ServerOptions.parse(["--otlp-endpoint", "http://127.0.0.1:4318"])
        #expect(options.arguments == ["--otlp-endpoint", "http://127.0.0.1:4318"])
        let json = try ServerOptions.parse(["--otlp-endpoint", "http://127.0.0.1:4318", "--otlp-encoding", "json"])
        #expect(json.arguments == ["--otlp-encoding", "json", "--otlp-endpoint", "http://127.0.0.1:4318"])
    }
}
