import HTTPTypes
import NIOCore
import TernCore

// Every frame header of the replica protocol (docs/replica-protocol.md), encoded and decoded in
// this one file: the request headers the gateway writes (`hello`, `health`, `predict`,
// `predict_batch`, `v2_metadata`, `v2_infer`) and the response headers it reads, with the one
// JSON string escaper of the gateway (``ByteBuffer/writeJSONQuoted(_:)``). Headers are written
// straight into a `ByteBuffer` (no encoder, no intermediate `String`) and read with
// ``FrameHeaderJSON`` (no `JSONDecoder`): the request path does both once per prediction
// (docs/benchmarks.md, optimisation log). The length-prefixed framing itself is
// ReplicaFrame.swift; who sends which frame when is ``ReplicaExchange``.

/// Constants of the replica protocol.
enum ReplicaProtocol {
    /// Why a status a replica sent cannot be the client's (nil when it can): an answer's must
    /// be 200–599 (a predictor's response object sets it), an error's 400–599. The gateway
    /// answers 502 `bad_replica_response` instead of writing it.
    static func statusProblem(_ status: Int, isError: Bool) -> String? {
        let allowed = isError ? 400...599 : 200...599
        if allowed.contains(status) { return nil }
        return "the replica answered with status \(status); \(isError ? "an error's" : "an answer's") status must be \(allowed.lowerBound) to \(allowed.upperBound)"
    }

    /// The protocol version the gateway speaks, sent in `hello`.
    static let version = 1
    /// The header of the `hello` frame that opens every connection.
    static var helloHeader: ByteBuffer { ByteBuffer(string: #"{"kind":"hello","id":0,"protocol":1}"#) }
    /// The header of a `health` frame.
    static var healthHeader: ByteBuffer { ByteBuffer(string: #"{"kind":"health","id":1}"#) }
    /// What a predictor declares when an old runtime's `hello` answer says nothing.
    static let defaultAccepts = ["payload", "query_params", "headers"]
}

// MARK: request headers

extension ReplicaFrame {
    /// Builds the JSON header of a `predict` frame without an encoder or an intermediate
    /// `String`: the shape is fixed, so the bytes are written straight into the buffer, e.g.
    /// `{"kind":"predict","id":1,"request_id":"3f9a-17","path":"/iris","content_type":"application/json"}`.
    /// - Parameters:
    ///   - requestID: the gateway's id (hex digits and `-`, written as is).
    ///   - path: the endpoint path, e.g. `/iris`.
    ///   - query: the raw query string; sent when not empty and `acceptsQuery`.
    ///   - contentType: the request's `Content-Type`, if any.
    ///   - headers: the request's header fields; sent (names lower-cased) when `acceptsHeaders`.
    ///   - acceptsQuery: the predictor declares `query_params` (from `hello`).
    ///   - acceptsHeaders: the predictor declares `headers` (from `hello`).
    public static func predictHeader(
        requestID: String, path: String, query: String?, contentType: String?, headers: HTTPFields,
        acceptsQuery: Bool, acceptsHeaders: Bool
    ) -> ByteBuffer {
        var header = ByteBufferAllocator().buffer(
            capacity: 64 + requestID.utf8.count + path.utf8.count + (contentType?.utf8.count ?? 0))
        header.writeStaticString(#"{"kind":"predict","id":1,"request_id":""#)
        header.writeString(requestID)
        header.writeJSONMember(#"","path":"#, path)
        if acceptsQuery, let query, !query.isEmpty {
            header.writeJSONMember(#","query":"#, query)
        }
        if let contentType {
            header.writeJSONMember(#","content_type":"#, contentType)
        }
        if acceptsHeaders {
            header.writeStaticString(#","headers":"#)
            header.writeJSONObject(headers)
        }
        header.writeStaticString("}")
        return header
    }
}

extension ReplicaProtocol {
    /// The JSON header of a `v2_metadata` or `v2_infer` frame (the Open Inference Protocol), e.g.
    /// `{"kind":"v2_infer","id":1,"request_id":"3f9a-17","path":"/v2/models/iris/infer","model":"iris","content_type":"application/json"}`.
    /// - Parameters:
    ///   - kind: `v2_metadata` or `v2_infer`.
    ///   - model: the model name of the path (`<api>` or `<api>.<model>`); `model_name` is added
    ///     for the second form.
    ///   - version: the path's version, if any.
    ///   - inferenceHeaderLength: the client's `Inference-Header-Content-Length`, passed as
    ///     written (the runtime checks it: 400 when not a valid size).
    ///   - headers: the request's header fields, for a predictor that declares `headers`.
    static func openInferenceHeader(
        kind: String, requestID: String, path: String, model: String, version: String?, contentType: String?,
        inferenceHeaderLength: String?, headers: HTTPFields?
    ) -> ByteBuffer {
        var header = ByteBufferAllocator().buffer(capacity: 128 + path.utf8.count + model.utf8.count)
        header.writeJSONMember(#"{"kind":"#, kind)
        header.writeJSONMember(#","id":1,"request_id":"#, requestID)
        header.writeJSONMember(#","path":"#, path)
        header.writeJSONMember(#","model":"#, model)
        if let modelName = OpenInferenceRoute.target(of: model).modelName {
            header.writeJSONMember(#","model_name":"#, modelName)
        }
        if let version {
            header.writeJSONMember(#","version":"#, version)
        }
        if let contentType {
            header.writeJSONMember(#","content_type":"#, contentType)
        }
        if let inferenceHeaderLength {
            header.writeJSONMember(#","inference_header_length":"#, inferenceHeaderLength)
        }
        if let headers {
            header.writeStaticString(#","headers":"#)
            header.writeJSONObject(headers)
        }
        header.writeStaticString("}")
        return header
    }
}

/// The `predict_batch` frame of the replica protocol: building it from collected requests, and
/// splitting its answer back into one answer per request.
enum PredictBatch {
    /// Builds one `predict_batch` frame from the first requests of `requests` that fit the
    /// frame limits (always at least one).
    ///
    /// Header: `{"kind":"predict_batch","id":1,"path":…,"request_ids":[…],"items":[{"content_type":…,
    /// "query":…,"headers":{…},"length":n},…]}`; body: the items' bodies concatenated.
    /// - Parameters:
    ///   - requests: the batch, oldest first; not empty.
    ///   - acceptsQuery: send each item's `query` (the predictor declares `query_params`).
    ///   - acceptsHeaders: send each item's `headers` (the predictor declares `headers`).
    ///   - maxHeaderBytes: largest header, in bytes (the protocol's 1 MiB by default).
    ///   - maxBodyBytes: largest body, in bytes (the protocol's 1 GiB by default).
    /// - Returns: the frame and how many requests (from the front) it carries; the caller
    ///   sends the rest as another batch.
    static func frame(
        _ requests: [BatchRequest], acceptsQuery: Bool, acceptsHeaders: Bool,
        maxHeaderBytes: Int = maxFrameHeaderBytes, maxBodyBytes: Int = maxFrameBodyBytes
    ) -> (frame: ReplicaFrame, count: Int) {
        precondition(!requests.isEmpty)
        var prefix = ByteBuffer()
        prefix.writeJSONMember(#"{"kind":"predict_batch","id":1,"path":"#, requests[0].path)
        var ids = ByteBuffer()
        var items = ByteBuffer()
        var headerBytes = prefix.readableBytes + 32  // plus the fixed keys, brackets and braces
        var bodyBytes = 0
        var count = 0
        var item = ByteBuffer()
        var id = ByteBuffer()
        for request in requests {
            item.clear()
            item.writeStaticString("{")
            if let contentType = request.contentType {
                item.writeJSONMember(#""content_type":"#, contentType)
                item.writeStaticString(",")
            }
            if acceptsQuery, let query = request.query, !query.isEmpty {
                item.writeJSONMember(#""query":"#, query)
                item.writeStaticString(",")
            }
            if acceptsHeaders {
                item.writeStaticString(#""headers":"#)
                item.writeJSONObject(request.headers)
                item.writeStaticString(",")
            }
            item.writeStaticString(#""length":"#)
            item.writeString(String(request.body.readableBytes))
            item.writeStaticString("}")
            id.clear()
            id.writeJSONQuoted(request.requestID)
            let addedHeader = item.readableBytes + id.readableBytes + 2
            let addedBody = request.body.readableBytes
            if count > 0 && (headerBytes + addedHeader > maxHeaderBytes || bodyBytes + addedBody > maxBodyBytes) {
                break
            }
            if count > 0 {
                ids.writeStaticString(",")
                items.writeStaticString(",")
            }
            ids.writeImmutableBuffer(id)
            items.writeImmutableBuffer(item)
            headerBytes += addedHeader
            bodyBytes += addedBody
            count += 1
        }
        var header = prefix
        header.reserveCapacity(minimumWritableBytes: ids.readableBytes + items.readableBytes + 32)
        header.writeStaticString(#","request_ids":["#)
        header.writeImmutableBuffer(ids)
        header.writeStaticString(#"],"items":["#)
        header.writeImmutableBuffer(items)
        header.writeStaticString("]}")
        var body = ByteBuffer()
        body.reserveCapacity(bodyBytes)
        for request in requests.prefix(count) { body.writeImmutableBuffer(request.body) }
        return (ReplicaFrame(header: header, body: body), count)
    }

    /// Splits the replica's answer to a `predict_batch` frame of `count` items into one answer
    /// per item, in order.
    ///
    /// A frame-level error (no `items`, e.g. 400 `invalid_batch`) is every item's answer; an
    /// answer that does not match the frame (unreadable header, another number of items, lengths
    /// that do not add up to the body) is 502 `bad_replica_response` for every item.
    static func answers(to reply: ReplicaFrame, count: Int) -> [BatchAnswer] {
        func everyone(_ answer: BatchAnswer) -> [BatchAnswer] { Array(repeating: answer, count: count) }
        func bad(_ message: String) -> [BatchAnswer] {
            everyone(.failure(status: 502, kind: ErrorKind.badReplicaResponse.rawValue, message: message))
        }
        guard let header = try? BatchResponseHeader(parsing: reply.header) else { return bad("the replica sent an unreadable response header to a batch") }
        guard let items = header.items else {
            if let failure = header.error {
                if let problem = ReplicaProtocol.statusProblem(header.status, isError: true) { return bad(problem) }
                return everyone(.failure(status: header.status, kind: failure.kind, message: failure.message))
            }
            return bad("the replica answered a batch of \(count) without items (status \(header.status))")
        }
        guard items.count == count else {
            return bad("the replica answered a batch of \(count) requests with \(items.count) items")
        }
        let total = items.reduce(0) { $0 + ($1.error == nil ? max($1.length ?? 0, 0) : 0) }
        guard total == reply.body.readableBytes else {
            return bad("the lengths of the replica's answers add up to \(total) bytes, not \(reply.body.readableBytes)")
        }
        if let problem = items.lazy.compactMap({ ReplicaProtocol.statusProblem($0.status, isError: $0.error != nil) }).first {
            return bad(problem)
        }
        var body = reply.body
        return items.map { item in
            if let failure = item.error {
                return .failure(status: item.status, kind: failure.kind, message: failure.message)
            }
            let slice = body.readSlice(length: max(item.length ?? 0, 0)) ?? ByteBuffer()
            return .reply(
                status: item.status, contentType: item.contentType ?? "application/octet-stream", body: slice)
        }
    }
}

// MARK: response headers

/// The decoded header of a response frame. The gateway reads it with
/// ``init(parsing:)`` (below); `Decodable` remains for the `predict_batch`
/// answer, which embeds ``ErrorInfo``, and as the reference the parser is tested against.
///
/// Public (with the frame codec) only for bench/micro; see ReplicaFrame.swift.
public struct ReplicaResponseHeader: Decodable, Sendable {
    /// Why a request failed: Tern's error `kind` and a message for the client.
    public struct ErrorInfo: Decodable, Sendable {
        public var kind: String
        public var message: String
    }
    /// The id of the request frame answered.
    public var id: Int?
    /// HTTP status for the client.
    public var status: Int
    /// Content type of the body (absent for errors).
    public var contentType: String?
    /// Set when the request failed.
    public var error: ErrorInfo?
    /// `hello` only: the parameters the predictor declares.
    public var accepts: [String]?
    /// `hello` only: the worker's process id.
    public var pid: Int32?
    /// `v2_infer` only: the size of the JSON part of a body followed by binary tensors.
    public var inferenceHeaderLength: Int?
    /// `predict` only: header fields a predictor set on a returned response object, as
    /// `[name, value]` pairs in order (repeats kept). The gateway drops pairs that are not two
    /// valid strings and the fields it owns (see ``ReplicaExchange/answer(for:api:)``).
    public var headers: [[String]]?
    /// `predict` and `v2_infer`: how long the predictor's call took, and when it started for a
    /// traced request (a frame with `traceparent`); read for the trace's predict span.
    public var timing: Timing?

    /// The `timing` member of an answer: `{"predict_us": 812, "started_unix_ns": 1765140000123456789}`.
    public struct Timing: Decodable, Sendable, Equatable {
        /// The predictor call's duration in µs.
        public var predictMicroseconds: Int?
        /// Its start, in ns since 1970 (wall clock); only for a traced request.
        public var startedUnixNanoseconds: Int64?

        enum CodingKeys: String, CodingKey {
            case predictMicroseconds = "predict_us"
            case startedUnixNanoseconds = "started_unix_ns"
        }

        /// Memberwise initialiser.
        public init(predictMicroseconds: Int? = nil, startedUnixNanoseconds: Int64? = nil) {
            self.predictMicroseconds = predictMicroseconds
            self.startedUnixNanoseconds = startedUnixNanoseconds
        }

        /// Reads the `timing` object (unknown keys skipped, both fields optional).
        init(reading reader: inout FrameHeaderJSON.Reader) throws(FrameHeaderJSON.SyntaxError) {
            try reader.readObject { (reader, key) throws(FrameHeaderJSON.SyntaxError) in
                if key.isEqual(to: "predict_us") {
                    predictMicroseconds = try reader.readNull() ? nil : try reader.readInteger()
                } else if key.isEqual(to: "started_unix_ns") {
                    startedUnixNanoseconds = try reader.readNull() ? nil : try reader.readInteger()
                } else {
                    try reader.skipValue()
                }
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, status, error, accepts, pid, headers, timing
        case contentType = "content_type"
        case inferenceHeaderLength = "inference_header_length"
    }
}

/// The decoded header of the answer to a `predict_batch` frame.
struct BatchResponseHeader: Decodable, Sendable {
    /// One request's outcome: `length` bytes of the body with `content_type`, or an error.
    struct Item: Decodable, Sendable {
        /// HTTP status for this request.
        var status: Int
        /// Content type of this request's answer (absent for errors).
        var contentType: String?
        /// Bytes of the body that belong to this item, in order (absent or 0 for errors).
        var length: Int?
        /// Why this request failed, if it did.
        var error: ReplicaResponseHeader.ErrorInfo?

        enum CodingKeys: String, CodingKey {
            case status, length, error
            case contentType = "content_type"
        }
    }
    /// 200 when `items` is present; else the status of a frame-level error.
    var status: Int
    /// A frame-level error (e.g. `invalid_batch`), which every request of the batch gets.
    var error: ReplicaResponseHeader.ErrorInfo?
    /// One entry per item of the request frame, in order; absent on a frame-level error.
    var items: [Item]?
}

extension ReplicaResponseHeader {
    /// Reads a response header from the frame's JSON bytes: the same fields, defaults and
    /// failures as decoding it with `JSONDecoder` (see ``FrameHeaderJSON`` for the few
    /// malformed documents that differ), at a fraction of the cost.
    /// - Throws: ``FrameHeaderJSON/SyntaxError`` when the bytes are not a JSON object, `status`
    ///   is missing, or a known field has the wrong type.
    public init(parsing header: ByteBuffer) throws(FrameHeaderJSON.SyntaxError) {
        let parsed = header.withUnsafeReadableBytes { bytes in
            Result { () throws(FrameHeaderJSON.SyntaxError) in try Self.parse(bytes) }
        }
        self = try parsed.get()
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws(FrameHeaderJSON.SyntaxError) -> Self {
        var reader = FrameHeaderJSON.Reader(bytes)
        reader.skipByteOrderMark()
        var status: Int?
        var header = Self(status: 0)
        var seen = FrameHeaderJSON.SeenKeys()
        try reader.readObject { (reader, key) throws(FrameHeaderJSON.SyntaxError) in
            if key.isEqual(to: "status"), seen.first(0) {
                status = try reader.readInteger()
            } else if key.isEqual(to: "id"), seen.first(1) {
                header.id = try reader.readNull() ? nil : try reader.readInteger()
            } else if key.isEqual(to: "content_type"), seen.first(2) {
                header.contentType = try reader.readNull() ? nil : try reader.readString()
            } else if key.isEqual(to: "error"), seen.first(3) {
                header.error = try reader.readNull() ? nil : try ErrorInfo(reading: &reader)
            } else if key.isEqual(to: "pid"), seen.first(4) {
                header.pid = try reader.readNull() ? nil : try reader.readInteger()
            } else if key.isEqual(to: "inference_header_length"), seen.first(6) {
                header.inferenceHeaderLength = try reader.readNull() ? nil : try reader.readInteger()
            } else if key.isEqual(to: "headers"), seen.first(7) {
                if try reader.readNull() {
                    header.headers = nil
                } else {
                    var pairs: [[String]] = []
                    try reader.readArray { (reader) throws(FrameHeaderJSON.SyntaxError) in
                        var pair: [String] = []
                        try reader.readArray { (reader) throws(FrameHeaderJSON.SyntaxError) in pair.append(try reader.readString()) }
                        pairs.append(pair)
                    }
                    header.headers = pairs
                }
            } else if key.isEqual(to: "timing"), seen.first(8) {
                header.timing = try reader.readNull() ? nil : try Timing(reading: &reader)
            } else if key.isEqual(to: "accepts"), seen.first(5) {
                if try reader.readNull() {
                    header.accepts = nil
                } else {
                    var accepts: [String] = []
                    try reader.readArray { (reader) throws(FrameHeaderJSON.SyntaxError) in accepts.append(try reader.readString()) }
                    header.accepts = accepts
                }
            } else {
                try reader.skipValue()
            }
        }
        try reader.finish()
        guard let status else { throw FrameHeaderJSON.SyntaxError(offset: 0, reason: "the header has no status") }
        header.status = status
        return header
    }
}

extension BatchResponseHeader {
    /// Reads the header of the answer to a `predict_batch` frame from its JSON bytes: the same
    /// fields, defaults and failures as decoding it with `JSONDecoder` (see ``FrameHeaderJSON``
    /// for the few malformed documents that differ). The gateway reads one per batch, on the
    /// path every request of the batch waits on.
    /// - Throws: ``FrameHeaderJSON/SyntaxError`` when the bytes are not a JSON object, a `status`
    ///   (of the header or of an item) is missing, or a known field has the wrong type.
    init(parsing header: ByteBuffer) throws(FrameHeaderJSON.SyntaxError) {
        let parsed = header.withUnsafeReadableBytes { bytes in
            Result { () throws(FrameHeaderJSON.SyntaxError) in
                var reader = FrameHeaderJSON.Reader(bytes)
                reader.skipByteOrderMark()
                let header = try Self(reading: &reader)
                try reader.finish()
                return header
            }
        }
        self = try parsed.get()
    }

    private init(reading reader: inout FrameHeaderJSON.Reader) throws(FrameHeaderJSON.SyntaxError) {
        var status: Int?
        var error: ReplicaResponseHeader.ErrorInfo?
        var items: [Item]?
        var seen = FrameHeaderJSON.SeenKeys()
        try reader.readObject { (reader, key) throws(FrameHeaderJSON.SyntaxError) in
            if key.isEqual(to: "status"), status == nil {
                status = try reader.readInteger()
            } else if key.isEqual(to: "error"), seen.first(0) {
                error = try reader.readNull() ? nil : try ReplicaResponseHeader.ErrorInfo(reading: &reader)
            } else if key.isEqual(to: "items"), seen.first(1) {
                if try !reader.readNull() {
                    var read: [Item] = []
                    try reader.readArray { (reader) throws(FrameHeaderJSON.SyntaxError) in read.append(try Item(reading: &reader)) }
                    items = read
                }
            } else {
                try reader.skipValue()
            }
        }
        guard let status else { throw FrameHeaderJSON.SyntaxError(offset: reader.offset, reason: "the header has no status") }
        self.init(status: status, error: error, items: items)
    }
}

extension BatchResponseHeader.Item {
    /// Reads one item: `{"status":…,"content_type":…,"length":…}` or `{"status":…,"error":{…}}`.
    fileprivate init(reading reader: inout FrameHeaderJSON.Reader) throws(FrameHeaderJSON.SyntaxError) {
        var status: Int?
        var item = Self(status: 0)
        var seen = FrameHeaderJSON.SeenKeys()
        try reader.readObject { (reader, key) throws(FrameHeaderJSON.SyntaxError) in
            if key.isEqual(to: "status"), status == nil {
                status = try reader.readInteger()
            } else if key.isEqual(to: "content_type"), seen.first(0) {
                item.contentType = try reader.readNull() ? nil : try reader.readString()
            } else if key.isEqual(to: "length"), seen.first(1) {
                item.length = try reader.readNull() ? nil : try reader.readInteger()
            } else if key.isEqual(to: "error"), seen.first(2) {
                item.error = try reader.readNull() ? nil : try ReplicaResponseHeader.ErrorInfo(reading: &reader)
            } else {
                try reader.skipValue()
            }
        }
        guard let status else { throw FrameHeaderJSON.SyntaxError(offset: reader.offset, reason: "an item has no status") }
        item.status = status
        self = item
    }
}

extension ReplicaResponseHeader.ErrorInfo {
    /// Reads `{"kind":…,"message":…}` (both required, other keys skipped).
    init(reading reader: inout FrameHeaderJSON.Reader) throws(FrameHeaderJSON.SyntaxError) {
        var kind: String?
        var message: String?
        try reader.readObject { (reader, key) throws(FrameHeaderJSON.SyntaxError) in
            if key.isEqual(to: "kind"), kind == nil {
                kind = try reader.readString()
            } else if key.isEqual(to: "message"), message == nil {
                message = try reader.readString()
            } else {
                try reader.skipValue()
            }
        }
        guard let kind, let message else {
            throw FrameHeaderJSON.SyntaxError(offset: reader.offset, reason: "an error needs kind and message")
        }
        self.init(kind: kind, message: message)
    }
}

// MARK: the JSON escaper

extension ByteBuffer {
    /// Writes `value` as a JSON string literal, quotes included (RFC 8259 escaping: `"`, `\`
    /// and control characters), straight into the buffer. The gateway's one JSON string escaper:
    /// frame headers, error documents and ``JSONText`` all write through it.
    /// - Returns: the number of bytes written.
    @discardableResult
    mutating func writeJSONQuoted(_ value: String) -> Int {
        let start = writerIndex
        writeInteger(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var clean = 0  // bytes before `index` not yet written
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[clean..<index])))
                clean = index + 1
                switch byte {
                case UInt8(ascii: "\""): writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): writeStaticString(#"\\"#)
                case 0x0A: writeStaticString(#"\n"#)
                case 0x0D: writeStaticString(#"\r"#)
                case 0x09: writeStaticString(#"\t"#)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    writeStaticString(#"\u00"#)
                    writeInteger(hex.utf8Start[Int(byte >> 4)])
                    writeInteger(hex.utf8Start[Int(byte & 0xF)])
                }
            }
            writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[clean...])))
        }
        writeInteger(UInt8(ascii: "\""))
        return writerIndex - start
    }

    /// Writes `prefix` (the JSON text up to a member's value, e.g. `,"path":`) then `value` as a
    /// JSON string literal.
    mutating func writeJSONMember(_ prefix: StaticString, _ value: String) {
        writeStaticString(prefix)
        writeJSONQuoted(value)
    }

    /// Writes header fields as a JSON object of lower-case names to values, e.g.
    /// `{"content-type":"application/json","x-user":"7"}` (a repeated name appears once per
    /// value; the last one wins when decoded).
    mutating func writeJSONObject(_ fields: HTTPFields) {
        writeStaticString("{")
        var first = true
        for field in fields {
            if !first { writeStaticString(",") }
            first = false
            writeJSONQuoted(field.name.canonicalName)
            writeStaticString(":")
            writeJSONQuoted(field.value)
        }
        writeStaticString("}")
    }
}
