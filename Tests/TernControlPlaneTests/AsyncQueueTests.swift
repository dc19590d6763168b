import Foundation
import TernControlPlane
import TernCore
import Testing

/// AsyncAPI requests in the durable queue (a real SQLite file, the time passed in), and the
/// documents `GET <endpoint>/<id>` answers.
@Suite struct AsyncQueueTests {
    /// Kept for the whole test (its deinit removes the folder).
    private let folder: TemporaryDirectory

    init() throws { folder = try TemporaryDirectory() }

    @Test func requestsAreLeasedInArrivalOrderAndCompletedOnceWithTheirResult() throws {
        let store = try Store(path: folder.path + "/tern.db")
        let queue = Store.asyncQueue("ocr")
        for (n, id) in ["b", "a", "c"].enumerated() {
            try store.enqueueRequest(queue: queue, id: id, body: Array("{\"n\":\(n)}".utf8), contentType: "application/json", now: Double(n))
        }
        let first = try #require(try store.lease(queue: queue, worker: "w0", receipt: "r0", now: 10, leaseSeconds: 30))
        #expect(first.id == "b", "arrival order, not id order")
        #expect(first.contentType == "application/json")
        #expect(String(decoding: first.payload, as: UTF8.self) == #"{"n":0}"#)
        #expect(try store.request(queue: queue, id: "b")?.state == "leased")
        #expect(try store.leaseHolders(queue: queue) == ["w0"])
        #expect(try !store.completeRequest(queue: queue, id: "b", receipt: "stale", result: [1], resultType: "x", status: 200, now: 11))
        #expect(try store.completeRequest(queue: queue, id: "b", receipt: "r0", result: Array("ok".utf8), resultType: "text/plain", status: 201, now: 12))
        #expect(try !store.completeRequest(queue: queue, id: "b", receipt: "r0", result: [2], resultType: "x", status: 200, now: 13), "once")
        let done = try #require(try store.request(queue: queue, id: "b"))
        #expect(done.state == "done")
        #expect(done.result == Array("ok".utf8))
        #expect(done.resultStatus == 201)
        #expect(done.finishedAt == 12)
        #expect(try store.lease(queue: queue, worker: "w0", receipt: "r1", now: 14, leaseSeconds: 30)?.id == "a")
        #expect(try store.request(queue: "async:other", id: "a") == nil, "queues are apart")
    }

    @Test func finishedRequestsPastTheRetentionAreDeletedQueuedOnesAreKept() throws {
        let store = try Store(path: folder.path + "/tern.db")
        let queue = Store.asyncQueue("ocr")
        try store.enqueueRequest(queue: queue, id: "old", body: [], contentType: nil, now: 0)
        try store.enqueueRequest(queue: queue, id: "waiting", body: [], contentType: nil, now: 0)
        _ = try store.lease(queue: queue, worker: "w0", receipt: "r", now: 1, leaseSeconds: 30)
        _ = try store.completeRequest(queue: queue, id: "old", receipt: "r", result: [], resultType: "text/plain", status: 200, now: 2)
        #expect(try store.deleteRequests(finishedBefore: 1) == 0)
        #expect(try store.deleteRequests(finishedBefore: 100) == 1)
        #expect(try store.request(queue: queue, id: "old") == nil)
        #expect(try store.request(queue: queue, id: "waiting")?.state == "queued")
        try store.deleteQueue(queue)
        #expect(try store.request(queue: queue, id: "waiting") == nil)
    }

    private func document(_ request: StoredRequest) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(AsyncQueueService.document(request))) as? [String: Any])
    }

    private func request(_ state: String, result: String? = nil, type: String? = nil, error: String? = nil) -> StoredRequest {
        StoredRequest(
            id: "r1", state: state, createdAt: 0, finishedAt: state == "done" || state == "dead" ? 60 : nil,
            result: result.map { Array($0.utf8) }, resultType: type, resultStatus: result == nil ? nil : 200, error: error)
    }

    @Test func theStatusDocumentEmbedsJSONAndTextResultsAndBase64sOthers() throws {
        #expect(try document(request("queued"))["status"] as? String == "in_queue")
        #expect(try document(request("leased"))["status"] as? String == "in_progress")
        let failed = try document(request("dead", error: "ValueError: bad"))
        #expect(failed["status"] as? String == "failed")
        #expect(failed["error"] as? String == "ValueError: bad")
        #expect(failed["ended_at"] as? String == "1970-01-01T00:01:00Z")
        let json = try document(request("done", result: #"{"label":"7"}"#, type: "application/json"))
        #expect(json["status"] as? String == "completed")
        #expect((json["result"] as? [String: Any])?["label"] as? String == "7")
        #expect(json["content_type"] as? String == "application/json")
        #expect(json["timestamp"] as? String == "1970-01-01T00:00:00Z")
        let text = try document(request("done", result: "héllo \"x\"", type: "text/plain; charset=utf-8"))
        #expect(text["result"] as? String == "héllo \"x\"")
        let binary = try document(request("done", result: "\u{0}\u{1}", type: "application/octet-stream"))
        #expect(binary["result_base64"] as? String == "AAE=")
        #expect(binary["result"] == nil)
    }
}
