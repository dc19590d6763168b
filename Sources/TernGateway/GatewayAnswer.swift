import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TernCore

/// An HTTP answer before it is written: status, header fields (without `Content-Length` and
/// `Date`, which the writer adds) and body. The Hummingbird responders and the fast path
/// (``PredictFastPath``) build their answers with the same functions, so both paths answer alike.
struct GatewayAnswer: Sendable {
    /// HTTP status code.
    var status: Int
    /// Header fields.
    var headers: HTTPFields
    /// Body bytes.
    var body: ByteBuffer

    /// As a Hummingbird `Response` (Hummingbird adds `Content-Length` and `Date`).
    var response: Response {
        Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
    }

    /// How an error answer's JSON body looks.
    enum ErrorShape: Sendable {
        /// Tern's: `{"error":{"kind":…,"message":…,"api":…}}` (``ErrorDocument``).
        case tern
        /// The Open Inference Protocol's, with Tern's fields beside it:
        /// `{"error":"<message>","kind":…,"api":…}` (clients such as tritonclient read `error`
        /// as a string).
        case openInference
    }

    /// A JSON error answer (`api` is left out when nil), as `application/json`.
    static func error(
        status: Int, kind: ErrorKind, message: String, api: String?, headers: HTTPFields = [:],
        shape: ErrorShape = .tern
    ) -> GatewayAnswer {
        var fields = headers
        fields[.contentType] = "application/json"
        var json = ByteBufferAllocator().buffer(capacity: 64 + message.utf8.count)
        switch shape {
        case .tern:
            json.writeJSONMember(#"{"error":{"kind":"#, kind.rawValue)
            json.writeJSONMember(#","message":"#, message)
        case .openInference:
            json.writeJSONMember(#"{"error":"#, message)
            json.writeJSONMember(#","kind":"#, kind.rawValue)
        }
        if let api {
            json.writeJSONMember(#","api":"#, api)
        }
        json.writeStaticString(shape == .tern ? "}}" : "}")
        return GatewayAnswer(status: status, headers: fields, body: json)
    }

    /// A rejection or failure as an error answer, with `Retry-After` when it has one and
    /// `X-Request-ID` when the request got an id.
    static func error(
        _ rejection: GatewayRejection, api: String, requestID: String? = nil, shape: ErrorShape = .tern
    ) -> GatewayAnswer {
        var headers = HTTPFields()
        if let retryAfter = rejection.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let requestID { headers[.requestID] = requestID }
        return error(
            status: rejection.status, kind: rejection.kind, message: rejection.message, api: api, headers: headers,
            shape: shape)
    }

    /// 413 for a body over the gateway's `--max-body-bytes` (`limit`); the connection closes.
    static func tooLarge(limit: Int, api: String, shape: ErrorShape = .tern) -> GatewayAnswer {
        error(
            status: 413, kind: .payloadTooLarge,
            message: "the request body is larger than the gateway's limit of \(limit) bytes; start the server with `tern serve --max-body-bytes N` to change it",
            api: api, headers: [.connection: "close"], shape: shape)
    }

    /// A JSON document answered with `status`.
    static func json(_ status: Int, _ text: String) -> GatewayAnswer {
        GatewayAnswer(status: status, headers: [.contentType: "application/json"], body: ByteBuffer(string: text))
    }
}

/// Request ids: the client's own `X-Request-ID` when it is a usable one, else a random
/// per-process prefix and a counter (unique, cheap, sortable in logs).
enum RequestID {
    private static let prefix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    private static let counter = Atomic<UInt64>(0)
    /// The id of a request whose `X-Request-ID` field is `client` (nil when it sent none):
    /// `client` itself when it has ``RequestIDText``'s form (1–128 bytes of letters, digits and
    /// `-._:@/+=`), else ``next()``.
    static func forRequest(client: String?) -> String {
        guard let client, RequestIDText.isValid(client) else { return next() }
        return client
    }

    /// The next id, e.g. `3f9a1c2b-17`.
    static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(n, radix: 16)
    }
}

/// JSON text for the gateway's small fixed-shape documents (descriptions, readiness), written
/// with the gateway's one escaper, ``ByteBuffer/writeJSONQuoted(_:)``.
enum JSONText {
    /// `value` as a JSON string literal, quotes included (RFC 8259 escaping).
    static func quoted(_ value: String) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: value.utf8.count + 2)
        buffer.writeJSONQuoted(value)
        return String(buffer: buffer)
    }
}
