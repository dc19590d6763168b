import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TernCore

@testable import TernGateway

/// ``ReplicaExchange`` — the one request path — against an in-process fake replica: both ways in
/// (the callback core and the async wrapper) give the same answer, `request_timeout` answers 504
/// while the slot stays busy, a refusal is answered in the request's error shape, and every
/// answer passes the observer hook once.
@Suite struct ReplicaExchangeTests {
    /// Records what the gateway's ``ExchangeObserver`` hook saw.
    final class Observer: ExchangeObserver {
        private let seen = Mutex<[ExchangeRecord]>([])
        func exchangeAnswered(_ record: ExchangeRecord) { seen.withLock { $0.append(record) } }
        var records: [ExchangeRecord] { seen.withLock { $0 } }
    }

    /// Answers `hello` and `health`, and each `predict` / `v2_infer` frame with its own body
    /// (200, `application/json`) unless `silent`, when it never answers a request.
    private final class EchoReplica: ChannelInboundHandler {
        typealias InboundIn = ReplicaFrame
        typealias OutboundOut = ReplicaFrame
        let silent: Bool
        init(silent: Bool) { self.silent = silent }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let header = (try? JSONSerialization.jsonObject(with: Data(frame.header.readableBytesView))) as? [String: Any]
            let kind = header?["kind"] as? String
            let reply: String
            switch kind {
            case "hello": reply = #"{"id":0,"status":200,"protocol":1,"pid":1,"accepts":["payload"]}"#
            case "health": reply = #"{"id":1,"status":200}"#
            default:
                if silent { return }
                reply = #"{"id":1,"status":200,"content_type":"application/json","inference_header_length":7}"#
            }
            let body = kind == "hello" || kind == "health" ? ByteBuffer() : frame.body
            context.writeAndFlush(wrapOutboundOut(ReplicaFrame(header: ByteBuffer(string: reply), body: body)), promise: nil)
        }
    }

    /// Runs `body` with a router for API `echo` (optionally with a `request_timeout`), one fake
    /// replica attached unless `attached` is false, and a gateway whose observer is returned.
    private func withExchange(
        requestTimeoutMs: Int64? = nil, silent: Bool = false, attached: Bool = true, alsoObserving second: Observer? = nil,
        _ body: (APIRouter, Gateway, Observer) async throws -> Void
    ) async throws {
        let observer = Observer()
        let gateway = Gateway(
            configuration: GatewayConfiguration(observers: [observer] + (second.map { [$0] } ?? [])),
            logger: Logger(label: "test"))
        let server = try await FakeReplicaServer.start { EchoReplica(silent: silent) }
        let spec = APISpec(
            name: "echo", predictor: PredictorSpec(type: .python, path: "predictor.py"),
            networking: NetworkingSpec(endpoint: "/echo", requestTimeoutMs: requestTimeoutMs))
        let router = APIRouter(spec: spec, coldStartTimeout: .seconds(5), wake: { _ in })
        do {
            if attached {
                let connection = try await ReplicaConnection.connect(
                    socketPath: server.socketPath, group: MultiThreadedEventLoopGroup.singleton)
                router.attach(replicaID: "r", connections: [connection])
            }
            try await body(router, gateway, observer)
            await router.close(grace: .milliseconds(100))
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    private func predict(_ text: String) -> ReplicaRequest {
        ReplicaRequest(
            kind: .predict, path: "/echo", query: nil, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: text))
    }

    @Test func bothWaysInGiveTheReplicasAnswerAndPassTheHookOnce() async throws {
        try await withExchange { router, gateway, observer in
            let viaTask = await ReplicaExchange.answer(predict("[1]"), router: router, gateway: gateway)
            #expect(viaTask.status == 200)
            #expect(String(buffer: viaTask.body) == "[1]")
            #expect(viaTask.headers[.contentType] == "application/json")
            #expect(viaTask.headers[.requestID] != nil)

            let request = predict("[2]")
            let viaCallback = await withCheckedContinuation { continuation in
                let loop = MultiThreadedEventLoopGroup.singleton.next()
                loop.execute {
                    let start = ReplicaExchange(request, router: router, gateway: gateway) {
                        continuation.resume(returning: $0)
                    }.startWithoutTask(near: ObjectIdentifier(loop))
                    if case .needsNormalPath = start { Issue.record("a free slot was refused") }
                }
            }
            #expect(viaCallback.status == 200)
            #expect(String(buffer: viaCallback.body) == "[2]")
            #expect(viaCallback.headers[.requestID] == request.requestID)

            let records = observer.records
            #expect(records.count == 2)
            #expect(records.map(\.status) == [200, 200])
            #expect(records.map(\.kind) == ["predict", "predict"])
            #expect(records.allSatisfy { $0.api == "echo" && $0.queued != nil })
            #expect(records.last?.requestID == request.requestID)
            #expect(router.inFlight == 0)
        }
    }

    @Test func everyObserverSeesEachAnswerOnce() async throws {
        let second = Observer()
        try await withExchange(alsoObserving: second) { router, gateway, first in
            for body in ["[1]", "[2]", "[3]"] {
                let answer = await ReplicaExchange.answer(predict(body), router: router, gateway: gateway)
                #expect(answer.status == 200)
            }
            #expect(first.records.count == 3)
            #expect(second.records.count == 3)
            #expect(first.records.map(\.requestID) == second.records.map(\.requestID))
            #expect(Set(first.records.map(\.requestID)).count == 3)
        }
    }

    @Test func anOpenInferenceAnswerKeepsItsInferenceHeaderLength() async throws {
        try await withExchange { router, gateway, observer in
            let request = ReplicaRequest(
                kind: .openInferenceInfer(model: "echo", version: nil), path: "/v2/models/echo/infer", query: nil,
                headers: [:], body: ByteBuffer(string: #"{"inputs":[]}"#))
            let answer = await ReplicaExchange.answer(request, router: router, gateway: gateway)
            #expect(answer.status == 200)
            #expect(answer.headers[.inferenceHeaderLength] == "7")
            #expect(observer.records.map(\.kind) == ["v2_infer"])
        }
    }

    @Test func requestTimeoutAnswers504AndTheSlotStaysBusy() async throws {
        try await withExchange(requestTimeoutMs: 50, silent: true) { router, gateway, observer in
            let started = ContinuousClock.now
            let answer = await ReplicaExchange.answer(predict("[1]"), router: router, gateway: gateway)
            #expect(answer.status == 504)
            #expect(String(buffer: answer.body).contains(#""kind":"timeout""#))
            #expect(started.duration(to: .now) >= .milliseconds(50))
            // The replica never answered: its slot is still counted, so it gets no more requests
            // than it has slots.
            #expect(router.inFlight == 1)
            #expect(observer.records.map(\.status) == [504])
        }
    }

    @Test func aRefusalIsAnsweredInTheRequestsErrorShape() async throws {
        try await withExchange(attached: false) { router, gateway, observer in
            let tern = await ReplicaExchange.answer(predict("[1]"), router: router, gateway: gateway)
            #expect(tern.status == 503)
            #expect(String(buffer: tern.body).hasPrefix(#"{"error":{"kind":"no_ready_replica","#))
            #expect(tern.headers[.retryAfter] == "1")

            let v2 = ReplicaRequest(
                kind: .openInferenceInfer(model: "echo", version: nil), path: "/v2/models/echo/infer", query: nil,
                headers: [:], body: ByteBuffer())
            let openInference = await ReplicaExchange.answer(v2, router: router, gateway: gateway)
            #expect(openInference.status == 503)
            #expect(String(buffer: openInference.body).hasPrefix(#"{"error":"API echo has no ready replica"#))
            #expect(observer.records.map(\.status) == [503, 503])
            #expect(observer.records.allSatisfy { $0.queued == nil })
        }
    }
}
