import Foundation
import HTTPTypes
import NIOCore

/// One request collected for server-side batching: what its item of a `predict_batch` frame
/// needs.
struct BatchRequest: Sendable {
    /// The id the gateway gave the request (`X-Request-ID`).
    var requestID: String
    /// The endpoint path, e.g. `/iris`.
    var path: String
    /// The request's `Content-Type`, if any.
    var contentType: String?
    /// The raw query string, if any (sent only when `predict` declares `query_params`).
    var query: String?
    /// The request's header fields (sent only when `predict` declares `headers`).
    var headers: HTTPFields
    /// The request body, untouched.
    var body: ByteBuffer
}

/// What one request of a batch gets back from the replica.
enum BatchAnswer: Sendable, Equatable {
    /// The replica's answer for this request: HTTP status, content type and body.
    case reply(status: Int, contentType: String, body: ByteBuffer)
    /// An error for this request (or for its whole batch), rendered in Tern's JSON error shape.
    case failure(status: Int, kind: String, message: String)
}

/// The `predict_batch` frame of the replica protocol (docs/replica-protocol.md): building it
/// from collected requests, and splitting its answer back into one answer per request.
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
        let prefix = #"{"kind":"predict_batch","id":1,"path":"# + JSONText.quoted(requests[0].path)
        var ids = ""
        var items = ""
        var headerBytes = prefix.utf8.count + 32  // plus the fixed keys, brackets and braces
        var bodyBytes = 0
        var count = 0
        for request in requests {
            var item = "{"
            if let contentType = request.contentType {
                item += #""content_type":"# + JSONText.quoted(contentType) + ","
            }
            if acceptsQuery, let query = request.query, !query.isEmpty {
                item += #""query":"# + JSONText.quoted(query) + ","
            }
            if acceptsHeaders {
                item += #""headers":"# + JSONText.object(request.headers) + ","
            }
            item += #""length":"# + String(request.body.readableBytes) + "}"
            let id = JSONText.quoted(request.requestID)
            let addedHeader = item.utf8.count + id.utf8.count + 2
            let addedBody = request.body.readableBytes
            if count > 0 && (headerBytes + addedHeader > maxHeaderBytes || bodyBytes + addedBody > maxBodyBytes) {
                break
            }
            if count > 0 {
                ids += ","
                items += ","
            }
            ids += id
            items += item
            headerBytes += addedHeader
            bodyBytes += addedBody
            count += 1
        }
        let header = prefix + #","request_ids":["# + ids + #"],"items":["# + items + "]}"
        var body = ByteBuffer()
        body.reserveCapacity(bodyBytes)
        for request in requests.prefix(count) { body.writeImmutableBuffer(request.body) }
        return (ReplicaFrame(header: ByteBuffer(string: header), body: body), count)
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
            everyone(.failure(status: 502, kind: "bad_replica_response", message: message))
        }
        guard let header = try? BatchResponseHeader(parsing: reply.header) else { return bad("the replica sent an unreadable response header to a batch") }
        guard let items = header.items else {
            if let failure = header.error {
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
