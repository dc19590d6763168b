import Foundation
import HTTPTypes
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TernCore

@testable import TernGateway

/// ``APIRouter`` with server-side batching against an in-process fake replica that records the
/// batch sizes it received and answers each item with its own body.
@Suite struct APIRouterBatchingTests {
    /// Batch sizes received by a ``BatchReplica``, in order.
    final class Recorder: Sendable {
        private let sizes = Mutex<[Int]>([])
        func append(_ size: Int) { sizes.withLock { $0.append(size) } }
        var batches: [Int] { sizes.withLock { $0 } }
    }

    /// Answers `hello`, and each `predict_batch` frame with one 200 item per request whose body
    /// is the request's own body.
    private final class BatchReplica: ChannelInboundHandler {
        typealias InboundIn = ReplicaFrame
        typealias OutboundOut = ReplicaFrame
        let recorder: Recorder
        init(recorder: Recorder) { self.recorder = recorder }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let header = (try? JSONSerialization.jsonObject(with: Data(frame.header.readableBytesView))) as? [String: Any]
            var reply = #"{"id":0,"status":200,"protocol":1,"pid":1,"accepts":["payload"]}"#
            if header?["kind"] as? String == "predict_batch", let items = header?["items"] as? [[String: Any]] {
                recorder.append(items.count)
                let answers = items.map { #"{"status":200,"content_type":"application/json","length":\#($0["length"] as? Int ?? 0)}"# }
                reply = #"{"id":1,"status":200,"items":["# + answers.joined(separator: ",") + "]}"
            }
            context.writeAndFlush(
                wrapOutboundOut(ReplicaFrame(header: ByteBuffer(string: reply), body: frame.body)), promise: nil)
        }
    }

    /// Runs `body` with a router for an API batching up to `maxBatchSize` requests for
    /// `intervalMs`, with one fake replica attached.
    private func withRouter(
        maxBatchSize: Int, intervalMs: Int64, _ body: (APIRouter, Recorder) async throws -> Void
    ) async throws {
        let recorder = Recorder()
        let server = try await FakeReplicaServer.start { BatchReplica(recorder: recorder) }
        let spec = APISpec(
            name: "batchy",
            predictor: PredictorSpec(
                type: .python, path: "predictor.py",
                serverSideBatching: BatchingSpec(maxBatchSize: maxBatchSize, batchIntervalMs: intervalMs)))
        let router = APIRouter(spec: spec, coldStartTimeout: .seconds(5), wake: { _ in })
        do {
            let connection = try await ReplicaConnection.connect(
                socketPath: server.socketPath, group: MultiThreadedEventLoopGroup.singleton)
            router.attach(replicaID: "r", connections: [connection])
            try await body(router, recorder)
            await router.close(grace: .seconds(1))
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    private func item(_ text: String) -> BatchRequest {
        BatchRequest(
            requestID: text, path: "/batchy", contentType: "application/json", query: nil, headers: [:],
            body: ByteBuffer(string: text))
    }

    private func body(_ answer: BatchAnswer) -> String? {
        if case .reply(200, _, let body) = answer { return String(buffer: body) }
        return nil
    }

    @Test func requestsWaitUntilTheBatchIsFullThenEachGetsItsOwnAnswer() async throws {
        try await withRouter(maxBatchSize: 3, intervalMs: 60_000) { router, recorder in
            #expect(router.batchesRequests)
            let first = Task { try await router.submit(item("[1]")) }
            let second = Task { try await router.submit(item("[2]")) }
            // Both are admitted and counted in flight, but nothing is sent before the batch is full.
            while router.inFlight < 2 { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(50))
            #expect(recorder.batches.isEmpty)
            let third = try await router.submit(item("[3]"))
            #expect(body(third) == "[3]")
            #expect(body(try await first.value) == "[1]")
            #expect(body(try await second.value) == "[2]")
            #expect(recorder.batches == [3])
            #expect(router.inFlight == 0)
        }
    }

    @Test func aLoneRequestIsSentOnceTheIntervalPassed() async throws {
        try await withRouter(maxBatchSize: 8, intervalMs: 50) { router, recorder in
            let started = ContinuousClock.now
            let answer = try await router.submit(item(#"{"solo":1}"#))
            #expect(body(answer) == #"{"solo":1}"#)
            #expect(started.duration(to: .now) >= .milliseconds(50))
            #expect(recorder.batches == [1])
        }
    }

    @Test func manyRequestsAreSplitIntoBatchesOfAtMostTheMaximum() async throws {
        try await withRouter(maxBatchSize: 4, intervalMs: 20) { router, recorder in
            let answers = try await withThrowingTaskGroup(of: (Int, BatchAnswer).self) { group in
                for index in 0..<10 {
                    group.addTask { (index, try await router.submit(item("[\(index)]"))) }
                }
                var answers: [Int: BatchAnswer] = [:]
                for try await (index, answer) in group { answers[index] = answer }
                return answers
            }
            for index in 0..<10 { #expect(body(answers[index]!) == "[\(index)]") }
            #expect(recorder.batches.reduce(0, +) == 10)
            #expect(recorder.batches.allSatisfy { $0 <= 4 })
        }
    }
}

extension APIRouter {
    /// Collects `request` with full admission and waits for its own answer (what a
    /// ``ReplicaExchange`` of the normal path does, without the HTTP answer around it).
    fileprivate func submit(_ request: BatchRequest) async throws -> BatchAnswer {
        try await withCheckedThrowingContinuation { continuation in
            switch collect(request, mayWake: true, callback: { continuation.resume(with: $0) }) {
            case .collected: break
            case .refused(let reason): continuation.resume(throwing: rejection(reason))
            case .needsNormalPath: Issue.record("the normal path never defers a request")
            }
        }
    }
}
