import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TernCore

/// Chooses the target of each request of a TrafficSplitter: smooth weighted round-robin, the
/// algorithm of nginx's `upstream` weights (`ngx_http_upstream_get_peer`, 2011).
///
/// Each pick adds every target's weight to its running score, takes the target with the highest
/// score (the first listed on a tie) and subtracts the total weight from it. Over every run of
/// `total` consecutive picks each target is chosen exactly `weight` times, and the choices are
/// interleaved (80/20 gives `a a b a a | a a b a a`-like sequences, never 80 `a` in a row).
/// It is chosen over weighted random because the split is exact over any window of 100 requests,
/// not only in expectation, and it needs no random source, so tests assert exact sequences.
/// Targets with weight 0 are left out and never picked.
///
/// A value type with no I/O; ``TrafficSplit`` owns one behind a lock.
public struct WeightedPicker: Sendable {
    /// The targets that can be picked (weight > 0), in the order given.
    public let candidates: [(name: String, weight: Int)]
    private var scores: [Int]
    private let total: Int

    /// Creates a picker over `targets`; those with weight 0 (and shadows) are never picked.
    /// With no target of positive weight, ``next()`` returns nil.
    public init(_ targets: [TrafficTarget]) {
        candidates = targets.filter { !$0.shadow && $0.weight > 0 }.map { ($0.name, $0.weight) }
        scores = Array(repeating: 0, count: candidates.count)
        total = candidates.reduce(0) { $0 + $1.weight }
    }

    /// The name of the target of the next request, or nil when no target has a positive weight.
    public mutating func next() -> String? {
        guard !candidates.isEmpty else { return nil }
        var best = 0
        for index in candidates.indices {
            scores[index] += candidates[index].weight
            if scores[index] > scores[best] { best = index }
        }
        scores[best] -= total
        return candidates[best].name
    }
}

/// Decides which requests of a TrafficSplitter are copied to its shadow target: exactly
/// `percent` of every 100 consecutive requests, spread evenly (Bresenham's line stepping: request
/// n is copied when ⌊(n+1)·p/100⌋ > ⌊n·p/100⌋). Deterministic, like ``WeightedPicker``.
public struct MirrorSampler: Sendable {
    /// Percentage of requests copied, 0…100.
    public let percent: Int
    private var count = 0

    /// Creates a sampler copying `percent` % of requests (clamped to 0…100).
    public init(percent: Int) {
        self.percent = min(max(percent, 0), 100)
    }

    /// Whether the next request is copied to the shadow.
    public mutating func next() -> Bool {
        let copied = (count + 1) * percent / 100 > count * percent / 100
        count = (count + 1) % 100
        return copied
    }
}

/// The route of one TrafficSplitter: its endpoint, its targets and the picker shared by every
/// request to it. Immutable apart from the picker; a weight change replaces the whole value
/// (see ``SplitTable``), so requests that already picked a target are not affected.
final class TrafficSplit: Sendable {
    /// The splitter's name.
    let api: String
    /// Its endpoint path, e.g. `/iris-split`.
    let endpoint: String
    /// `apis` as deployed.
    let targets: [TrafficTarget]
    private let picker: Mutex<WeightedPicker>
    /// The shadow target, nil without one.
    private let shadow: String?
    /// Which requests the shadow gets a copy of.
    private let sampler: Mutex<MirrorSampler>

    init(api: String, endpoint: String, targets: [TrafficTarget]) {
        self.api = api
        self.endpoint = endpoint
        self.targets = targets
        self.picker = Mutex(WeightedPicker(targets))
        let shadow = targets.first(where: \.shadow)
        self.shadow = shadow?.name
        self.sampler = Mutex(MirrorSampler(percent: shadow?.weight ?? 0))
    }

    /// The target for the next request.
    func pick() -> String? {
        picker.withLock { $0.next() }
    }

    /// The shadow that gets a copy of the next request, if any.
    func pickShadow() -> String? {
        guard let shadow, sampler.withLock({ $0.next() }) else { return nil }
        return shadow
    }
}

/// Every TrafficSplitter route, by endpoint path. Swapping a splitter's entry is atomic: a request
/// sees either the old targets or the new ones, and one that already picked a target keeps going.
final class SplitTable: Sendable {
    private let splits = Mutex<[String: TrafficSplit]>([:])

    /// The splitter served at `path`, if any.
    func split(forPath path: String) -> TrafficSplit? {
        splits.withLock { $0[path] }
    }

    /// Adds or replaces a splitter's route (also when its endpoint changed).
    func set(_ split: TrafficSplit) {
        splits.withLock { table in
            table = table.filter { $0.value.api != split.api }
            table[split.endpoint] = split
        }
    }

    // Open Inference Protocol (helper H3): `/v2/models/<splitter>` names the splitter's targets.
    /// The route of TrafficSplitter `api`, if it is one.
    func split(forAPI api: String) -> TrafficSplit? {
        splits.withLock { $0.values.first { $0.api == api } }
    }

    /// Removes the route of `api`; false when it was not a splitter.
    @discardableResult
    func remove(api: String) -> Bool {
        splits.withLock { table in
            let count = table.count
            table = table.filter { $0.value.api != api }
            return table.count != count
        }
    }
}

/// What the responder does with a request to a splitter's endpoint.
enum SplitDecision {
    /// Serve it as a request to this target API's own endpoint, and send a copy to `shadow` (whose
    /// answer is dropped) when given.
    case forward(APIRouter, shadow: APIRouter?)
    /// Answer at once (GET description, wrong method, target without a route).
    case answer(GatewayAnswer)
}

/// The answer given instead of serving a request that could not be copied to a shadow.
struct MirrorRefusal: Error {
    var answer: GatewayAnswer
}

extension HTTPField.Name {
    /// `Tern-API`: on answers from a TrafficSplitter's endpoint, the target API that served it.
    static let ternAPI = HTTPField.Name("Tern-API")!
}

extension Gateway {
    /// The splitter served at `path`, if any.
    func split(forPath path: String) -> TrafficSplit? {
        splits.split(forPath: path)
    }

    /// Adds or atomically replaces the weighted route of TrafficSplitter `api`; if `api` was a
    /// RealtimeAPI until now, its route is removed first (its requests drain).
    public func setSplit(api: String, endpoint: String, targets: [TrafficTarget]) async {
        if router(forAPI: api) != nil { await removeRoute(api: api) }
        removeQueueRoute(api: api)  // a BatchAPI or TaskAPI that became a TrafficSplitter
        splits.set(TrafficSplit(api: api, endpoint: endpoint, targets: targets))
    }

    /// Reads `request`'s body (up to the gateway's limit) so that it can be sent twice, starts
    /// `send` on a copy for `split`'s shadow in a task of its own (its answer is dropped; it never
    /// delays or fails the client's request), and returns the request to serve. Returns a 413
    /// response instead when the body is too large, or 400 when it cannot be read (both name the
    /// splitter).
    func mirror(
        _ request: Request, of split: TrafficSplit, send: @escaping @Sendable (Request) async -> GatewayAnswer
    ) async -> Result<Request, MirrorRefusal> {
        let body: ByteBuffer
        switch await request.collectBody(limit: configuration.maxBodyBytes, api: split.api) {
        case .success(let read): body = read
        case .failure(let refusal): return .failure(MirrorRefusal(answer: refusal))
        }
        var buffered = request
        buffered.body = RequestBody(buffer: body)
        let copy = buffered
        Task { _ = await send(copy) }
        return .success(buffered)
    }

    /// Decides what to do with `request` sent to `split`'s endpoint: a POST picks a target by
    /// weight and is forwarded to it; a GET describes the splitter.
    func route(_ request: Request, to split: TrafficSplit) -> SplitDecision {
        switch request.method {
        case .post:
            guard let target = split.pick() else {
                return .answer(
                    .error(
                        status: 503, kind: .noTarget,
                        message: "TrafficSplitter \(split.api) has no API with a weight above 0", api: split.api))
            }
            guard let router = router(forAPI: target) else {
                return .answer(
                    .error(
                        status: 503, kind: .targetUnavailable,
                        message: "API \(target), picked by TrafficSplitter \(split.api), has no route; run `tern get \(split.api)`",
                        api: target, headers: [.ternAPI: target, .retryAfter: "1"]))
            }
            return .forward(router, shadow: split.pickShadow().flatMap { self.router(forAPI: $0) })
        case .get:
            let targets = split.targets.map {
                #"{"name":\#(JSONText.quoted($0.name)),"weight":\#($0.weight),"shadow":\#($0.shadow)}"#
            }
            let json =
                #"{"api":\#(JSONText.quoted(split.api)),"kind":"TrafficSplitter","targets":[\#(targets.joined(separator: ","))]}"#
            return .answer(.json(200, json))
        default:
            return .answer(
                .error(
                    status: 405, kind: .methodNotAllowed,
                    message: "use POST to predict or GET for the TrafficSplitter's targets", api: split.api,
                    headers: [.allow: "GET, POST"]))
        }
    }
}
