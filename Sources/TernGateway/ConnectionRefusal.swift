import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import TernCore

/// The limits a client connection's bytes are held to before a request exists: the request
/// head's size and field count (enforced by NIO's HTTP/1 decoder), the time to send a head, and
/// the number of open connections. Documented in docs/behaviour.md ("Limits and timeouts").
public struct ConnectionLimits: Sendable, Equatable {
    /// Largest request head, in bytes: the request target plus every header field's name and
    /// value (NIO's `maxHeaderListSize`, which counts the target too; separators not counted).
    /// Default 80 KiB (81,920), NIO's default; also the largest single field.
    public var maxHeaderBytes: Int
    /// Most header fields in one request head. Default 100 (Apache's `LimitRequestFields`).
    public var maxHeaderCount: Int
    /// Longest a client may take from the first byte of a request head to its end before it gets
    /// 408 and its connection is closed (slowloris). Default 30 s.
    public var headerTimeout: TimeAmount
    /// Most client connections open at once; beyond it a new connection is answered 503
    /// `too_many_connections` and closed. Nil: no limit. Default nil here (`tern serve` passes
    /// three quarters of its file-descriptor limit).
    public var maxConnections: Int?

    /// Creates limits; defaults as documented on each property.
    public init(
        maxHeaderBytes: Int = 80 << 10, maxHeaderCount: Int = 100, headerTimeout: TimeAmount = .seconds(30),
        maxConnections: Int? = nil
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
    }
}

/// Which of `tern serve`'s HTTP listeners a refusal speaks for: named in its messages.
public struct RefusingListener: Sendable, Equatable {
    /// The listener as messages name it, e.g. `the gateway`.
    public var name: String
    /// What the listener serves, said when a request line has no known method.
    public var methods: String

    /// The gateway: `GET` and `POST` of API endpoints.
    public static let gateway = RefusingListener(name: "the gateway", methods: "serves GET and POST (e.g. `POST /<endpoint> HTTP/1.1`)")
    /// The control plane: `/v1` (docs/openapi.yaml).
    public static let controlPlane = RefusingListener(
        name: "the control plane", methods: "serves GET, POST and DELETE under /v1 (docs/openapi.yaml)")
}

/// What the gateway answers when it ends a connection without a request to serve: a request
/// head it cannot parse or that is over the limits, a head that took too long, a connection over
/// the connection limit. Pure decisions; ``ProtocolErrorResponder`` and ``LingeringClose`` do the
/// I/O.
public enum ConnectionRefusal {
    /// The answer to a decoding error of the request head, or nil for errors that are not about
    /// the client's bytes (those are passed on to Hummingbird).
    ///
    /// - `HTTPParserError.headerOverflow` → 431 `headers_too_large` (NIO raises it for a head
    ///   over ``ConnectionLimits/maxHeaderBytes`` or with more than
    ///   ``ConnectionLimits/maxHeaderCount`` fields; it does not say which);
    /// - `.invalidVersion` and `.paused` → 505 `http_version_not_supported` (HTTP/2 prior knowledge, `PRI *
    ///   HTTP/2.0`, lands here);
    /// - any other `HTTPParserError` or an `HTTP1TypeConversionError` → 400 `bad_request`.
    /// `listener` is named in the messages (default the gateway).
    static func answer(to error: any Error, limits: ConnectionLimits, listener: RefusingListener = .gateway) -> GatewayAnswer? {
        if let parse = error as? HTTPParserError {
            switch parse {
            case .headerOverflow:
                return refusal(
                    431, .headersTooLarge,
                    "the request head is over \(listener.name)'s limits: \(limits.maxHeaderBytes) bytes of request target and header fields, \(limits.maxHeaderCount) header fields; send fewer or smaller header fields (docs/behaviour.md, Limits)")
            case .invalidVersion, .paused:  // llhttp pauses on the HTTP/2 preface (`PRI * HTTP/2.0`)
                return refusal(
                    505, .httpVersionNotSupported,
                    "\(listener.name) speaks HTTP/1.1 (and 1.0) only; HTTP/2 with prior knowledge and other versions are not supported")
            case .invalidMethod:
                return refusal(400, .badRequest, "the request line does not start with a known HTTP method; \(listener.name) \(listener.methods)")
            default:
                return refusal(400, .badRequest, "the request is not valid HTTP/1.1 (\(parse)); the connection is closed")
            }
        }
        if error is HTTP1TypeConversionError {
            return refusal(400, .badRequest, "the request head is not valid HTTP (\(error)); the connection is closed")
        }
        return nil
    }

    /// 408 for a head that took longer than `timeout`.
    static func headerTimeout(_ timeout: TimeAmount) -> GatewayAnswer {
        refusal(
            408, .headerTimeout,
            "the request head did not arrive within \(seconds(timeout)) s (`tern serve --header-timeout-seconds`); the connection is closed")
    }

    /// 503 for a connection over the limit of `limit` open connections.
    static func tooManyConnections(limit: Int) -> GatewayAnswer {
        var answer = refusal(
            503, .tooManyConnections,
            "the gateway already holds its limit of \(limit) open client connections (`tern serve --max-connections`); retry later or reuse a keep-alive connection")
        answer.headers[.retryAfter] = "1"
        return answer
    }

    private static func refusal(_ status: Int, _ kind: ErrorKind, _ message: String) -> GatewayAnswer {
        GatewayAnswer.error(status: status, kind: kind, message: message, api: nil, headers: [.connection: "close"])
    }

    private static func seconds(_ amount: TimeAmount) -> String {
        let value = Double(amount.nanoseconds) / 1e9
        return value == value.rounded() ? String(Int(value)) : String(value)
    }
}

extension GatewayAnswer {
    /// The answer as HTTP/1.1 bytes: status line, its fields, `Content-Length`, `Date`, the body.
    /// For answers written below the HTTP codec (``LingeringClose``), where no encoder is.
    func http1Bytes(date: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 256 + body.readableBytes)
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        buffer.writeString("HTTP/1.1 \(status) \(reason)\r\n")
        for field in headers {
            buffer.writeString("\(field.name.rawName): \(field.value)\r\n")
        }
        buffer.writeString("Content-Length: \(body.readableBytes)\r\nDate: \(date)\r\n\r\n")
        buffer.writeImmutableBuffer(body)
        return buffer
    }
}
