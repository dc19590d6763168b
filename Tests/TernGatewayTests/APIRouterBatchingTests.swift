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
@Suite(.timeLimit(.minutes(2))) struct APIRouterBatchingTests {
    /// Batch sizes received by a ``BatchReplica``, in order.
    final class Recorder: Sendable {
        private let sizes = Mutex<[Int]>([])
        func append(_ size: Int) { sizes.withLock { $0.append(size) } }
        var batches: [Int] { sizes.withLock { $0 } }
    }

    /// Holds a ``BatchReplica``'s answers until the test opens it (a prediction that takes as
    /// long as the test needs, whatever the machine's load); answers after that go at once.
    final class AnswerGate: Sendable {
        private let state = Mutex<(open: Bool, held: [@Sendable () -> Void])>((false, []))

        /// Runs `send` now if the gate is open, else when it opens.
        func pass(_ send: @escaping @Sendable () -> Void) {
            let now = state.withLock { state in
                if !state.open { state.held.append(send) }
                return state.open
            }
            if now { send() }
        }

        /// Sends every held answer, in arrival order, and lets later ones through.
        func open() {
            let held = state.withLock { state in
                state.open = true
                defer { state.held = [] }
                return state.held
            }
            for send in held { send() }
        }
    }

    /// Answers `hello`, and each `predict_batch` frame with one 200 item per request whose body
    /// is the request's own body, `answerDelay` after it arrived, or once `gate` opens (a slow
    /// prediction keeps the slot busy; answers leave in arrival order).
    private final class BatchReplica: ChannelInboundHandler {
        typealias InboundIn = ReplicaFrame
        typealias OutboundOut = ReplicaFrame
        let recorder: Recorder
        let answerDelay: TimeAmount
        let gate: AnswerGate?
        init(recorder: Recorder, answerDelay: TimeAmount, gate: AnswerGate?) {
            self.recorder = recorder
            self.answerDelay = answerDelay
            self.gate = gate
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let header = (try? JSONSerialization.jsonObject(with: Data(frame.header.readableBytesView))) as? [String: Any]
            var reply = #"{"id":0,"status":200,"protocol":1,"pid":1,"accepts":["payload"]}"#
            if header?["kind"] as? String == "predict_batch", let items = header?["items"] as? [[String: Any]] {
                recorder.append(items.count)
                let answers = items.map { #"{"status":200,"content_type":"application/json","length":\#($0["length"] as? Int ?? 0)}"# }
                reply = #"{"id":1,"status":200,"items":["# + answers.joined(separator: ",") + "]}"
                if let gate {
                    let answer = ReplicaFrame(header: ByteBuffer(string: reply), body: frame.body)
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    let loop = context.eventLoop
                    gate.pass { loop.execute { bound.value.writeAndFlush(NIOAny(answer), promise: nil) } }
                    return
                }
                if answerDelay > .zero {
                    let answer = ReplicaFrame(header: ByteBuffer(string: reply), body: frame.body)
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    context.eventLoop.scheduleTask(in: answerDelay) {
                        bound.value.writeAndFlush(NIOAny(answer), promise: nil)
                    }
                    return
                }
            }
            context.writeAndFlush(
                wrapOutboundOut(ReplicaFrame(header: ByteBuffer(string: reply), body: frame.body)), promise: nil)
        }
    }

    /// Runs `body` with a router for an API batching up to `maxBatchSize` requests for
    /// `intervalMs` with `wait`, with one fake replica attached on one connection (two slots) that
    /// answers each batch `answerDelay` after it arrived, or once `gate` opens.
    private func withRouter(
        maxBatchSize: Int, intervalMs: Int64, wait: BatchWait, answerDelay: TimeAmount = .zero, gate: AnswerGate? = nil,
        _ body: (APIRouter, Recorder) async throws -> Void
    ) async throws {
        let recorder = Recorder()
        let server = try await FakeReplicaServer.start { BatchReplica(recorder: recorder, answerDelay: answerDelay, gate: gate) }
        let spec = APISpec(
            name: "batchy",
            predictor: PredictorSpec(
                type: .python, path: "predictor.py",
                serverSideBatching: BatchingSpec(maxBatchSize: maxBatchSize, batchIntervalMs: intervalMs, batchWait: wait)))
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

    /// Waits until `condition` holds, checking every 5 ms; fails the test after 10 s (a test
    /// that loops forever hangs the whole run instead of failing).
    private func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    private struct TestTimeout: Error, CustomStringConvertible {
        var what: String
        var description: String { "not reached within 10 s: \(what)" }
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

    @Test func withTheFullIntervalRequestsWaitUntilTheBatchIsFullThenEachGetsItsOwnAnswer() async throws {
        try await withRouter(maxBatchSize: 3, intervalMs: 60_000, wait: .fullInterval) { router, recorder in
            #expect(router.batchesRequests)
            let first = Task { try await router.submit(item("[1]")) }
            let second = Task { try await router.submit(item("[2]")) }
            // Both are admitted and counted in flight, but nothing is sent before the batch is full.
            try await eventually("router.inFlight >= 2") { router.inFlight >= 2 }
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

    @Test func withTheFullIntervalALoneRequestIsSentOnceTheIntervalPassed() async throws {
        try await withRouter(maxBatchSize: 8, intervalMs: 50, wait: .fullInterval) { router, recorder in
            let started = ContinuousClock.now
            let answer = try await router.submit(item(#"{"solo":1}"#))
            #expect(body(answer) == #"{"solo":1}"#)
            #expect(started.duration(to: .now) >= .milliseconds(50))
            #expect(recorder.batches == [1])
        }
    }

    @Test(arguments: BatchWait.allCases)
    func manyRequestsAreSplitIntoBatchesOfAtMostTheMaximum(wait: BatchWait) async throws {
        try await withRouter(maxBatchSize: 4, intervalMs: 20, wait: wait, answerDelay: .milliseconds(5)) { router, recorder in
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

    @Test func adaptivelyALoneRequestIsSentAtOnceAsABatchOfOne() async throws {
        try await withRouter(maxBatchSize: 8, intervalMs: 60_000, wait: .adaptive) { router, recorder in
            let started = ContinuousClock.now
            let answer = try await router.submit(item(#"{"solo":1}"#))
            #expect(body(answer) == #"{"solo":1}"#)
            #expect(started.duration(to: .now) < .seconds(30))  // the one-minute interval did not pass
            #expect(recorder.batches == [1])
            #expect(router.inFlight == 0)
        }
    }

    @Test func adaptivelyRequestsCollectWhileBothSlotsAreBusyAndGoWhenOneFrees() async throws {
        // One connection gives two slots; no batch is answered until the gate opens (with a timed
        // answer, a loaded machine let the first answers return before the later three were
        // submitted, so they never collected), and the one-minute interval never passes, so only
        // a freed slot can send the open batch.
        let gate = AnswerGate()
        try await withRouter(maxBatchSize: 8, intervalMs: 60_000, wait: .adaptive, gate: gate) {
            router, recorder in
            let started = ContinuousClock.now
            let first = Task { try await router.submit(item("[1]")) }
            let second = Task { try await router.submit(item("[2]")) }
            try await eventually("recorder.batches.count >= 2") { recorder.batches.count >= 2 }
            #expect(recorder.batches == [1, 1])  // each found a slot free and went alone
            let later = (3...5).map { index in Task { try await router.submit(item("[\(index)]")) } }
            try await eventually("router.inFlight >= 5") { router.inFlight >= 5 }
            #expect(recorder.batches == [1, 1])  // both slots busy: the three collect
            gate.open()
            #expect(body(try await first.value) == "[1]")
            #expect(body(try await second.value) == "[2]")
            for (index, task) in later.enumerated() { #expect(body(try await task.value) == "[\(index + 3)]") }
            #expect(recorder.batches == [1, 1, 3])  // sent when the first slot freed
            #expect(started.duration(to: .now) < .seconds(30))
            #expect(router.inFlight == 0)
        }
    }

    @Test func adaptivelyAFullBatchWaitsForASlotAndTheNextOneCollectsBehindIt() async throws {
        // Answers take 800 ms, so the five submissions below land while both slots are busy even
        // on a loaded machine (at 200 ms, a slot freed between two of them in a parallel test run).
        try await withRouter(maxBatchSize: 2, intervalMs: 2000, wait: .adaptive, answerDelay: .milliseconds(800)) {
            router, recorder in
            let busy = (1...2).map { index in Task { try await router.submit(item("[\(index)]")) } }
            try await eventually("recorder.batches.count >= 2") { recorder.batches.count >= 2 }
            // Five more while both slots are busy: two full batches queue for slots, one collects.
            // The last batch sent before it had 2 requests, so the lone seventh is not taken by a
            // freed slot (at about 1.6 s): it goes when its batch_interval (2 s) has passed.
            let started = ContinuousClock.now
            let more = (3...7).map { index in Task { try await router.submit(item("[\(index)]")) } }
            for task in busy + more { _ = try await task.value }
            #expect(started.duration(to: .now) >= .milliseconds(1900))
            #expect(recorder.batches.count == 5)
            #expect(recorder.batches.last == 1)
            #expect(Array(recorder.batches.prefix(2)) == [1, 1])
            #expect(recorder.batches.reduce(0, +) == 7)
            #expect(recorder.batches.allSatisfy { $0 <= 2 })
            #expect(router.inFlight == 0)
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
