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
/// The spans are made when the request leases a slot or is answered, back-dated to its
/// admission: an exchange the NIO fast path hands to the normal path (which makes its own) costs
/// no spans. They are ended on whichever event loop has the request; the class holds them behind
/// a mutex because the answer and a `request_timeout` may race (the first ends them).
final class RequestTrace: Sendable {
    private let tracer: any Tracer
    private let method: HTTPRequest.Method
    private let path: String
    private let headers: HTTPFields
    private let api: String
    private let requestID: String
    /// Admission, on the tracer's clock: where the server and queue spans start.
    private let admitted: SpanInstant
    private let state = Mutex(State())

    private struct State {
        var server: (any Span)?
        var replica: (any Span)?
        var ended = false
    }

    /// A trace of a request of `api` with `requestID`, admitted now; the client's `traceparent`
    /// in `headers`, when it has one, becomes the server span's parent.
    init(tracer: any Tracer, method: HTTPRequest.Method, path: String, headers: HTTPFields, api: String, requestID: String) {
        self.tracer = tracer
        self.method = method
        self.path = path
        self.headers = headers
        self.api = api
        self.requestID = requestID
        self.admitted = SpanInstant(nanosecondsSinceEpoch: DefaultTracerClock.now.nanosecondsSinceEpoch)
    }

    /// The server span `"<method> <path>"` from admission, and the queue span from admission to
    /// `now`, ended.
    private func startServer(queueEnd now: SpanInstant) -> any Span {
        var parent = ServiceContext.topLevel
        tracer.extract(headers, into: &parent, using: HTTPFieldsExtractor())
        let server = tracer.startAnySpan("\(method.rawValue) \(path)", at: admitted, context: parent, ofKind: .server)
        server.attributes["http.request.method"] = method.rawValue
        server.attributes["url.path"] = path
        server.attributes["tern.api"] = api
        server.attributes["tern.request_id"] = requestID
        tracer.startAnySpan("tern.queue", at: admitted, context: server.context, ofKind: .internal).end(at: now)
        return server
    }

    /// The request got a replica slot: records the server and queue spans, starts the replica
    /// span and returns the W3C `traceparent` that names it (for the frame), or nil if the
    /// tracer gave none or the request was answered already.
    func leased() -> String? {
        let replica = state.withLock { state -> (any Span)? in
            guard !state.ended, state.server == nil else { return nil }
            let now = SpanInstant(nanosecondsSinceEpoch: DefaultTracerClock.now.nanosecondsSinceEpoch)
            let server = startServer(queueEnd: now)
            let replica = tracer.startAnySpan("tern.replica", at: now, context: server.context, ofKind: .client)
            (state.server, state.replica) = (server, replica)
            return replica
        }
        guard let replica else { return nil }
        var fields: [String: String] = [:]
        tracer.inject(replica.context, into: &fields, using: DictionaryInjector())
        return fields["traceparent"]
    }

    /// The answer is ready: ends the spans with `status` (HTTP; a request that never leased a
    /// slot gets its server and queue spans now), adds `tern.predict` under the replica span from
    /// the runtime's `timing` when it sent one (`predictMicroseconds`, and
    /// `startedUnixNanoseconds` for its start; without a start the predict span ends where the
    /// replica span does). Only the first call counts.
    func answered(status: Int, timing: ReplicaResponseHeader.Timing?) {
        let now = DefaultTracerClock.now
        let open = state.withLock { state -> (server: any Span, replica: (any Span)?)? in
            guard !state.ended else { return nil }
            state.ended = true
            defer { (state.server, state.replica) = (nil, nil) }
            let server = state.server ?? startServer(queueEnd: SpanInstant(nanosecondsSinceEpoch: now.nanosecondsSinceEpoch))
            return (server, state.replica)
        }
        guard let (server, replica) = open else { return }
        if let replica {
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
