import HTTPTypes
import NIOCore
import Synchronization
import Tracing

/// The OpenTelemetry spans of one request through the gateway (docs/tracing.md), made only when
/// `tern serve --otlp-endpoint` gives the gateway a tracer (``GatewayConfiguration/tracer``);
/// without one no `RequestTrace` exists and a request pays one nil check.
///
/// The spans, all in the client's trace when it sent a W3C `traceparent`, else in a new one:
///
/// ```
/// POST /iris                  server span: admission to answer (http.response.status_code, tern.api, tern.request_id)
/// ├── tern.queue              admission to the replica slot (about 0 µs long when a slot was free)
/// └── tern.replica            the frame's round trip to the replica (client span)
///     └── tern.predict        the predictor's own call, timed by the runtime (`timing` of the answer frame)
/// ```
///
/// The `traceparent` the replica gets (the frame's `traceparent` field) names `tern.replica`, so a
/// predictor that reads `headers["traceparent"]` and passes it on to a service it calls continues
/// the same trace. A request answered in a server-side batch gets the server and queue spans only.
///
/// The spans are started and ended on whichever event loop has the request; the class holds them
/// behind a mutex because the answer and a `request_timeout` may race (the first ends them).
final class RequestTrace: Sendable {
    private let tracer: any Tracer
    private let server: any Span
    private let state: Mutex<State>

    private struct State {
        var queue: (any Span)?
        var replica: (any Span)?
        var ended = false
    }

    /// Starts the server span `"<method> <path>"` and the queue span for a request of `api` with
    /// `requestID`, as children of the client's `traceparent` in `headers` when it has one.
    init(tracer: any Tracer, method: HTTPRequest.Method, path: String, headers: HTTPFields, api: String, requestID: String) {
        self.tracer = tracer
        var parent = ServiceContext.topLevel
        tracer.extract(headers, into: &parent, using: HTTPFieldsExtractor())
        let server = tracer.startAnySpan("\(method.rawValue) \(path)", context: parent, ofKind: .server)
        server.attributes["http.request.method"] = method.rawValue
        server.attributes["url.path"] = path
        server.attributes["tern.api"] = api
        server.attributes["tern.request_id"] = requestID
        self.server = server
        let queue = tracer.startAnySpan("tern.queue", context: server.context, ofKind: .internal)
        self.state = Mutex(State(queue: queue))
    }

    /// The request got a replica slot: ends the queue span, starts the replica span and returns
    /// the W3C `traceparent` that names it (for the frame), or nil if the tracer gave none.
    func leased() -> String? {
        let replica = state.withLock { state -> (any Span)? in
            guard !state.ended else { return nil }
            state.queue?.end()
            state.queue = nil
            let replica = tracer.startAnySpan("tern.replica", context: server.context, ofKind: .client)
            state.replica = replica
            return replica
        }
        guard let replica else { return nil }
        var fields: [String: String] = [:]
        tracer.inject(replica.context, into: &fields, using: DictionaryInjector())
        return fields["traceparent"]
    }

    /// The answer is ready: ends the open spans with `status` (HTTP), adds `tern.predict` under
    /// the replica span from the runtime's `timing` when it sent one (`predictMicroseconds`, and
    /// `startedUnixNanoseconds` for its start; without a start the predict span ends where the
    /// replica span does). Only the first call counts.
    func answered(status: Int, timing: ReplicaResponseHeader.Timing?) {
        let now = DefaultTracerClock.now
        let open = state.withLock { state -> (queue: (any Span)?, replica: (any Span)?)? in
            guard !state.ended else { return nil }
            state.ended = true
            defer { state.queue = nil; state.replica = nil }
            return (state.queue, state.replica)
        }
        guard let open else { return }
        open.queue?.end(at: now)
        if let replica = open.replica {
            if let timing, let micros = timing.predictMicroseconds, micros >= 0 {
                let duration = UInt64(micros) * 1_000
                let end = timing.startedUnixNanoseconds.map { UInt64(max($0, 0)) + duration } ?? now.nanosecondsSinceEpoch
                let start = end >= duration ? end - duration : 0
                let predict = tracer.startAnySpan(
                    "tern.predict", at: SpanInstant(nanosecondsSinceEpoch: start), context: replica.context, ofKind: .internal)
                predict.attributes["tern.predict_us"] = micros
                predict.end(at: SpanInstant(nanosecondsSinceEpoch: min(end, now.nanosecondsSinceEpoch)))
            }
            replica.attributes["http.response.status_code"] = status
            replica.end(at: now)
        }
        server.attributes["http.response.status_code"] = status
        // OpenTelemetry's HTTP conventions: a server span is an error for 5xx only.
        if status >= 500 { server.setStatus(SpanStatus(code: .error)) }
        server.end(at: now)
    }
}

/// A point in time for a span that started or ended before it was recorded (the predict span).
struct SpanInstant: TracerInstant {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    var nanosecondsSinceEpoch: UInt64

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
}

/// Reads W3C trace-context fields (`traceparent`, `tracestate`) from a request's header fields.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}

/// Writes trace-context fields into a dictionary (the frame's `traceparent`).
struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}
