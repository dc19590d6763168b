// Internal micro-benchmarks of the gateway's hot path (docs/benchmarks.md, "Internal
// benchmarks"). Every benchmark runs its operation 1,000 times per iteration
// (`scalingFactor: .kilo`), so the table shows time and allocations per operation.

import Benchmark
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import TernCore
import TernGateway
import TernScaling

/// The request of the iris example as the gateway sees it: `POST /iris`, JSON, a 60-byte body.
private enum Sample {
    static let requestID = "3f9a1c2b-17"
    static let headers: HTTPFields = [
        .contentType: "application/json", .contentLength: "60", .userAgent: "wrk",
    ]
    static let body = ByteBuffer(string: #"{"sepal_length":5.2,"sepal_width":3.6,"petal_length":1.5}"#.padding(to: 60))
    /// The runtime's answer: its usual header and a 60-byte JSON body.
    static let responseHeader = #"{"id":1,"status":200,"content_type":"application/json","timing":{"predict_us":97}}"#
    static let responseBody = ByteBuffer(string: #"{"prediction":"setosa","probabilities":[0.97,0.02,0.01]}"#.padding(to: 60))

    /// The wire bytes of the response frame.
    static let responseWire: ByteBuffer = {
        var wire = ByteBuffer()
        let header = ByteBuffer(string: responseHeader)
        wire.writeMultipleIntegers(UInt32(header.readableBytes), UInt32(responseBody.readableBytes))
        wire.writeImmutableBuffer(header)
        wire.writeImmutableBuffer(responseBody)
        return wire
    }()
}

extension String {
    /// The string with spaces appended up to `length` bytes (JSON ignores them).
    fileprivate func padding(to length: Int) -> String { self + String(repeating: " ", count: length - utf8.count) }
}

let benchmarks: @Sendable () -> Void = {
    // bench/micro.sh --quick sets TERN_MICRO_QUICK: a smoke run, not a measurement.
    let quick = ProcessInfo.processInfo.environment["TERN_MICRO_QUICK"] != nil
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: quick ? .milliseconds(300) : .seconds(2),
        maxIterations: quick ? 200 : 2_000
    )
    precondition(Sample.body.readableBytes == 60 && Sample.responseBody.readableBytes == 60)

    // MARK: replica frames

    Benchmark("Frame: build predict header") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                ReplicaFrame.predictHeader(
                    requestID: Sample.requestID, path: "/iris", query: nil, contentType: "application/json",
                    headers: Sample.headers, acceptsQuery: false, acceptsHeaders: false))
        }
    }

    Benchmark("Frame: build predict header + encode frame") { benchmark in
        let allocator = ByteBufferAllocator()
        for _ in benchmark.scaledIterations {
            let header = ReplicaFrame.predictHeader(
                requestID: Sample.requestID, path: "/iris", query: nil, contentType: "application/json",
                headers: Sample.headers, acceptsQuery: false, acceptsHeaders: false)
            blackHole(ReplicaFrame(header: header, body: Sample.body).encoded(allocator: allocator))
        }
    }

    Benchmark("Frame: decode response frame") { benchmark in
        var decoder = ReplicaFrameDecoder()
        for _ in benchmark.scaledIterations {
            var wire = Sample.responseWire
            blackHole(try decoder.decode(buffer: &wire))
        }
    }

    Benchmark("Frame: decode response frame + parse header") { benchmark in
        var decoder = ReplicaFrameDecoder()
        for _ in benchmark.scaledIterations {
            var wire = Sample.responseWire
            let frame = try decoder.decode(buffer: &wire)!
            blackHole(try ReplicaResponseHeader(parsing: frame.header))
        }
    }

    Benchmark("Frame: decode response frame + JSONDecoder (before)") { benchmark in
        var decoder = ReplicaFrameDecoder()
        for _ in benchmark.scaledIterations {
            var wire = Sample.responseWire
            let frame = try decoder.decode(buffer: &wire)!
            blackHole(
                try JSONDecoder().decode(ReplicaResponseHeader.self, from: Data(frame.header.readableBytesView)))
        }
    }

    // MARK: admission and balancing

    Benchmark("Admission: admit + release (4 replicas x 4 slots)") { benchmark in
        var state = AdmissionState(maxReplicaConcurrency: 64)
        for index in 0..<4 { _ = state.addReplica(id: "iris-\(index)", slots: 4) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            guard case .dispatch(let replica) = state.admit() else { fatalError("not dispatched") }
            blackHole(state.release(replicaID: replica))
        }
    }

    Benchmark("Balancing: ReplicaSlots take + giveBack (4 connections x depth 2)") { benchmark in
        let connections = (0..<4).map { _ in ReplicaConnection(channel: EmbeddedChannel(), accepts: ["payload"]) }
        var slots = ReplicaSlots(connections: connections, depth: 2)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let connection = slots.take()!
            slots.giveBack(connection)
            blackHole(connection)
        }
    }

    // MARK: API keys (APIKeyGate.check: what auth and rate limits add per request)

    /// A gate of an API with auth and 10 keys; the presented one (`fields`) the last, limited
    /// to `limit` when given (a limit high enough that every check is admitted).
    func keyGate(limit: RateLimit?) -> (gate: APIKeyGate, fields: HTTPFields) {
        let gate = APIKeyGate(auth: .apiKey)
        let keys = (0..<10).map { _ in APIKeys.generate() }
        gate.setKeys(keys.enumerated().map { index, key in
            GatewayKey(digest: APIKeys.digest(key.utf8), rateLimit: index == 9 ? limit : nil)
        })
        var fields = Sample.headers
        fields[.authorization] = "Bearer \(keys[9])"
        return (gate, fields)
    }

    Benchmark("Keys: check, API without auth") { benchmark in
        let gate = APIKeyGate(auth: .none)
        for _ in benchmark.scaledIterations { blackHole(gate.check(Sample.headers)) }
    }

    Benchmark("Keys: check, valid key without a rate limit (10 keys)") { benchmark in
        let (gate, fields) = keyGate(limit: nil)
        guard gate.check(fields) == .admitted else { fatalError("not admitted") }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(gate.check(fields)) }
    }

    Benchmark("Keys: check, valid key with a rate limit (10 keys, admitted)") { benchmark in
        let (gate, fields) = keyGate(limit: RateLimit(requests: RateLimit.maximum, per: .second, burst: RateLimit.maximum))
        guard gate.check(fields) == .admitted else { fatalError("not admitted") }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(gate.check(fields)) }
    }

    // MARK: traffic statistics (TrafficRecorder: what `tern get`'s figures add per answer)

    Benchmark("Traffic: TrafficRecorder record, API without monitoring") { benchmark in
        let recorder = TrafficRecorder()
        let record = ExchangeRecord(
            api: "iris", kind: "predict", requestID: Sample.requestID, status: 200, duration: .microseconds(850),
            queued: nil)
        recorder.exchangeAnswered(record)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { recorder.exchangeAnswered(record) }
    }

    Benchmark("Traffic: TrafficRecorder record, monitored (queue the body, then read it)") { benchmark in
        let recorder = TrafficRecorder()
        let record = ExchangeRecord(
            api: "iris", kind: "predict", requestID: Sample.requestID, status: 200, duration: .microseconds(850),
            queued: nil,
            prediction: PredictionAnswer(
                monitoring: MonitoringSpec(modelType: .classification, key: "prediction"), body: Sample.responseBody))
        recorder.exchangeAnswered(record)
        benchmark.startMeasurement()
        // Every answer's share of the once-a-second read (JSON decode off the request path) is
        // counted too: the queue is read after each 1,000.
        for _ in benchmark.scaledIterations { recorder.exchangeAnswered(record) }
        recorder.drain()
    }

    // MARK: batching

    Benchmark("Batcher: BatchCollector add (batches of 8)") { benchmark in
        var collector = BatchCollector<Int, ContinuousClock.Instant>(
            maxBatchSize: 8, interval: .milliseconds(5), wait: .fullInterval)
        var now = ContinuousClock.now
        for index in benchmark.scaledIterations {
            now = now.advanced(by: .microseconds(10))
            blackHole(collector.add(index, now: now, slotFree: false))
        }
    }

    // MARK: scaling

    Benchmark(
        "Scaling: ScalingDecider tick (10 samples + decide, 60-sample window)",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal], timeUnits: .nanoseconds, scalingFactor: .one,
            maxDuration: quick ? .milliseconds(300) : .seconds(2), maxIterations: quick ? 200 : 2_000)
    ) { benchmark in
        var decider = ScalingDecider<ContinuousClock.Instant>(spec: AutoscalingSpec(maxReplicas: 20))
        var now = ContinuousClock.now
        // Fill the 60 s window (one sample a second) and the 300 s of recommendations.
        for second in 0..<300 {
            now = now.advanced(by: .seconds(1))
            decider.record(inFlight: Double(8 + second % 5), at: now)
            if second % 10 == 9 { _ = decider.decide(currentReplicas: 8, at: now) }
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for _ in 0..<10 {
                now = now.advanced(by: .seconds(1))
                decider.record(inFlight: 9, at: now)
            }
            blackHole(decider.decide(currentReplicas: 8, at: now))
        }
    }
}
