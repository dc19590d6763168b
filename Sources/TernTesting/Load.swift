import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One request as a load client saw it.
public struct LoadResponse: Sendable {
    /// HTTP status; 0 when no response arrived (connection error, client deadline).
    public var status: Int
    /// Response headers, names lowercased.
    public var headers: [String: String]
    /// Response body as text.
    public var body: String
    /// Why no response arrived, when `status` is 0.
    public var error: String?
    /// When the request was sent.
    public var sentAt: ContinuousClock.Instant
    /// Time from sending until the response head arrived (the first byte of the answer).
    public var firstByte: Duration
    /// Time from sending until the whole body arrived (or the failure).
    public var elapsed: Duration

    /// When the whole answer had arrived.
    public var finishedAt: ContinuousClock.Instant { sentAt + elapsed }

    /// A one-line description for failure messages.
    public var summary: String {
        status == 0 ? "error \(error ?? "?") after \(elapsed)" : "\(status) \(body.prefix(200)) after \(elapsed)"
    }
}

/// Sends many requests at once: `HTTPClient.shared` keeps at most 8 connections per host, so
/// more concurrent requests would wait inside the client instead of reaching the gateway.
public enum LoadClient {
    /// A client that opens up to 512 connections per host.
    public static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// POSTs `body` (JSON) to `url`; never throws: failures come back with status 0.
    /// - Parameter timeout: the client's deadline; when it passes, the client gives up and
    ///   closes its connection (a client disconnect, as the gateway sees it).
    public static func post(_ url: String, body: Data, timeout: Duration = .seconds(60)) async -> LoadResponse {
        await send(url, method: .POST, body: body, timeout: timeout)
    }

    /// Sends one request; never throws: failures come back with status 0.
    public static func send(
        _ url: String, method: HTTPMethod = .POST, body: Data? = nil, contentType: String = "application/json",
        timeout: Duration = .seconds(60), client: HTTPClient = LoadClient.http
    ) async -> LoadResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let start = ContinuousClock.now
        var firstByte = Duration.zero
        do {
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            let response = try await client.execute(request, timeout: .nanoseconds(nanoseconds))
            firstByte = ContinuousClock.now - start
            let bytes = try await response.body.collect(upTo: 64 << 20)
            var headers: [String: String] = [:]
            for header in response.headers { headers[header.name.lowercased()] = header.value }
            return LoadResponse(
                status: Int(response.status.code), headers: headers, body: String(buffer: bytes), error: nil,
                sentAt: start, firstByte: firstByte, elapsed: ContinuousClock.now - start)
        } catch {
            let elapsed = ContinuousClock.now - start
            return LoadResponse(
                status: 0, headers: [:], body: "", error: "\(error)", sentAt: start,
                firstByte: firstByte == .zero ? elapsed : firstByte, elapsed: elapsed)
        }
    }

    /// Sends `count` requests at the same time and returns their responses in sending order.
    public static func burst(_ url: String, count: Int, body: Data, timeout: Duration = .seconds(60)) async -> [LoadResponse] {
        await withTaskGroup(of: (Int, LoadResponse).self) { group in
            for index in 0..<count {
                group.addTask { (index, await post(url, body: body, timeout: timeout)) }
            }
            var responses: [(Int, LoadResponse)] = []
            for await response in group { responses.append(response) }
            return responses.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

/// `clients` concurrent clients that each POST, wait for the answer and POST again (no think
/// time unless given) until ``stop()``.
public final class LoadGenerator: Sendable {
    private let flag = StopFlag()
    private let tasks: [Task<[LoadResponse], Never>]

    /// Starts the clients at once.
    /// - Parameters:
    ///   - url: where to POST.
    ///   - clients: how many requests are kept in flight.
    ///   - body: the JSON body of every request.
    ///   - thinkTime: pause between a client's answer and its next request.
    public init(url: String, clients: Int, body: Data, thinkTime: Duration = .zero) {
        let flag = self.flag
        var tasks: [Task<[LoadResponse], Never>] = []
        for _ in 0..<clients {
            tasks.append(
                Task {
                    var responses: [LoadResponse] = []
                    while !flag.isSet {
                        responses.append(await LoadClient.post(url, body: body))
                        if thinkTime > .zero { try? await Task.sleep(for: thinkTime) }
                    }
                    return responses
                })
        }
        self.tasks = tasks
    }

    /// Stops the clients after their current request and returns every response, in order of
    /// sending.
    public func stop() async -> [LoadResponse] {
        flag.set()
        var all: [LoadResponse] = []
        for task in tasks { all += await task.value }
        return all.sorted { $0.sentAt < $1.sentAt }
    }
}

/// A flag set once, read from many tasks.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// Calls `sample` every `interval` until ``stop()``, and keeps what it returns with the time.
public final class Sampler<Value: Sendable>: Sendable {
    private let flag = StopFlag()
    private let task: Task<[(at: ContinuousClock.Instant, value: Value)], Never>

    /// Starts sampling at once; a sample that throws is skipped.
    public init(every interval: Duration = .milliseconds(50), _ sample: @escaping @Sendable () async throws -> Value) {
        let flag = self.flag
        task = Task {
            var samples: [(at: ContinuousClock.Instant, value: Value)] = []
            while !flag.isSet {
                if let value = try? await sample() { samples.append((ContinuousClock.now, value)) }
                try? await Task.sleep(for: interval)
            }
            return samples
        }
    }

    /// Stops sampling and returns every sample in order.
    public func stop() async -> [(at: ContinuousClock.Instant, value: Value)] {
        flag.set()
        return await task.value
    }
}

/// The gateway's status document of an API (`GET /<endpoint>`).
public struct GatewayStatus: Sendable, Decodable, Equatable {
    /// `live` or `unavailable`.
    public var status: String
    /// Replicas taking requests.
    public var readyReplicas: Int
    /// Requests running plus queued.
    public var inFlight: Int

    enum CodingKeys: String, CodingKey {
        case status
        case readyReplicas = "ready_replicas"
        case inFlight = "in_flight"
    }
}

extension TestServer {
    /// The gateway's status document of the API at `endpoint` (e.g. `/slow`).
    public func gatewayStatus(_ endpoint: String) async throws -> GatewayStatus {
        let response = await LoadClient.send(gatewayURL + endpoint, method: .GET, body: nil, timeout: .seconds(5))
        guard response.status == 200 else { throw TestFailure("GET \(endpoint): \(response.summary)") }
        return try JSONDecoder().decode(GatewayStatus.self, from: Data(response.body.utf8))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
