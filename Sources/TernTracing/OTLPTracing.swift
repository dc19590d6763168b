import Logging
import OTel
import ServiceLifecycle
import Tracing

/// The OTLP/HTTP span exporter behind `tern serve --otlp-endpoint` (docs/tracing.md), built
/// with swift-otel: a tracer for ``TernGateway``'s `GatewayConfiguration.tracer` and the
/// background service that batches and exports its spans (run it in the server's service group;
/// a graceful shutdown flushes what is queued).
///
/// Only traces are exported: Tern's metrics stay on `/metrics` (Prometheus) and its logs in the
/// API log files. The standard `OTEL_*` environment variables (e.g. `OTEL_SERVICE_NAME`,
/// `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`) override these settings, as the
/// OpenTelemetry specification says.
public enum OTLPTracing {
    /// How spans are encoded on the wire (OTLP/HTTP).
    public enum Encoding: String, Sendable, CaseIterable {
        /// `application/x-protobuf`, the OTLP default (`http/protobuf`).
        case protobuf
        /// `application/json` (`http/json`), readable by a simple receiver.
        case json
    }

    /// The errors of ``make(endpoint:encoding:serviceName:scheduleDelay:)``.
    public struct SetupError: Error, CustomStringConvertible {
        /// What is wrong, for the user.
        public var description: String
    }

    /// The traces URL for a `--otlp-endpoint` value: an endpoint without a path (e.g.
    /// `http://127.0.0.1:4318`) gets `/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` does; one with a
    /// path is used as written (as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is).
    /// - Throws: ``SetupError`` when `endpoint` is not an `http://` or `https://` URL with a host.
    public static func tracesURL(_ endpoint: String) throws(SetupError) -> String {
        let lower = endpoint.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lower.hasPrefix($0) }) else {
            throw SetupError(description: "--otlp-endpoint must be an http:// or https:// URL, e.g. http://127.0.0.1:4318 (got '\(endpoint)')")
        }
        let rest = endpoint.dropFirst(scheme.count)
        let host = rest.prefix { $0 != "/" }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw SetupError(description: "--otlp-endpoint needs a host, e.g. http://127.0.0.1:4318 (got '\(endpoint)')")
        }
        let path = rest.dropFirst(host.count)
        return path.isEmpty || path == "/" ? "\(scheme)\(host)/v1/traces" : endpoint
    }

    /// Makes the tracer and its exporting service.
    /// - Parameters:
    ///   - endpoint: the collector, e.g. `http://127.0.0.1:4318` (see ``tracesURL(_:)``).
    ///   - encoding: protobuf (default) or JSON.
    ///   - serviceName: the `service.name` resource attribute. Default `tern`.
    ///   - scheduleDelay: the longest a finished span waits before its batch is sent. Default 1 s.
    /// - Throws: ``SetupError`` for a bad endpoint, or swift-otel's configuration error.
    public static func make(
        endpoint: String, encoding: Encoding = .protobuf, serviceName: String = "tern",
        scheduleDelay: Duration = .seconds(1)
    ) throws -> (tracer: any Tracer, service: any Service) {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.endpoint = try tracesURL(endpoint)
        configuration.traces.otlpExporter.protocol = encoding == .json ? .httpJSON : .httpProtobuf
        configuration.traces.batchSpanProcessor.scheduleDelay = scheduleDelay
        configuration.propagators = [.traceContext]
        configuration.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        return (backend.factory, backend.service)
    }
}
