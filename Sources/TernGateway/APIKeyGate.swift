import HTTPTypes
import NIOCore
import Synchronization
import TernCore

/// The key check of one API (`networking.auth: api_key`), held by its ``APIRouter`` and read on
/// every request before a replica is used; with it, each key's rate limit.
///
/// The control plane pushes the API's keys — their digests and rate limits
/// (``Gateway/setAPIKeys(api:keys:)``); the gateway never reads the store per request. An API
/// without auth pays one relaxed atomic load. With auth, the presented key is hashed (SHA-256)
/// and compared in constant time with every digest (``ConstantTime/equals(_:_:)``, each one in
/// full). A key without a rate limit costs nothing more; a key with one takes a token from its
/// ``TokenBucket`` in the same critical section as the comparison (no allocation). An API with
/// auth and no key refuses every request (closed by default).
///
/// Buckets are per gateway process: two gateways (machines) each allow a key its full rate.
/// Public for bench/micro only.
public final class APIKeyGate: Sendable {
    /// What ``check(_:)`` decided about a request.
    public enum Verdict: Sendable, Equatable {
        /// It may use the API.
        case admitted
        /// It carries no valid key (401).
        case unauthorized
        /// Its key's rate limit `limit` is used up: retry after `retryAfter` seconds (429).
        case rateLimited(retryAfter: Int, limit: RateLimit)
    }

    /// One valid key: its digest and, when it has a rate limit, the limit and its bucket.
    private struct Entry: Sendable {
        var digest: [UInt8]
        var limited: (limit: RateLimit, bucket: TokenBucket)?
    }

    /// Mirrors `networking.auth == .apiKey`, readable without the lock.
    private let required: Atomic<Bool>
    /// The valid keys.
    private let entries = Mutex<[Entry]>([])
    /// The buckets' clock: seconds, monotonic.
    private let now: @Sendable () -> Double

    /// A gate for `auth`, with no key yet; `now` is the buckets' clock (seconds, monotonic; the
    /// system's uptime clock unless a test passes one).
    public init(auth: APIAuth, now: @escaping @Sendable () -> Double = APIKeyGate.uptimeSeconds) {
        required = Atomic(auth == .apiKey)
        self.now = now
    }

    /// Seconds of the system's monotonic clock (`NIODeadline.now()`, `CLOCK_MONOTONIC`).
    @Sendable public static func uptimeSeconds() -> Double {
        Double(NIODeadline.now().uptimeNanoseconds) / 1e9
    }

    /// Applies the API's `networking.auth` (after a redeploy).
    public func configure(_ auth: APIAuth) {
        required.store(auth == .apiKey, ordering: .relaxed)
    }

    /// Replaces the valid keys. A key that was already valid with the same rate limit keeps its
    /// bucket (a refresh does not give it a new burst); a new key, or a changed limit, starts
    /// with a full bucket.
    public func setKeys(_ keys: [GatewayKey]) {
        let time = now()
        entries.withLock { entries in
            var kept: [[UInt8]: Entry] = [:]
            for entry in entries { kept[entry.digest] = entry }
            entries = keys.map { key in
                if let old = kept[key.digest], old.limited?.limit == key.rateLimit { return old }
                return Entry(digest: key.digest, limited: key.rateLimit.map { ($0, TokenBucket($0, now: time)) })
            }
        }
    }

    /// Whether the request with these header fields may use the API: it needs no key, or it
    /// carries a valid one (``presentedKey(in:)``) whose rate limit, if it has one, lets it
    /// through now. An admitted request with a limited key has taken its token.
    public func check(_ fields: HTTPFields) -> Verdict {
        guard required.load(ordering: .relaxed) else { return .admitted }
        guard let key = Self.presentedKey(in: fields) else { return .unauthorized }
        let digest = APIKeys.digest(key.utf8)
        return entries.withLock { entries in
            var matched: Int?
            for index in entries.indices where ConstantTime.equals(digest, entries[index].digest) { matched = index }
            guard let matched else { return .unauthorized }
            guard let limit = entries[matched].limited?.limit else { return .admitted }
            switch entries[matched].limited!.bucket.take(now: now()) {
            case .allowed: return .admitted
            case .limited(let retryAfter): return .rateLimited(retryAfter: retryAfter, limit: limit)
            }
        }
    }

    /// The 401 or 429 answer for a request ``check(_:)`` does not admit, naming `api`, in
    /// `shape`; nil when it is admitted.
    func refusal(for fields: HTTPFields, api: String, shape: GatewayAnswer.ErrorShape = .tern) -> GatewayAnswer? {
        switch check(fields) {
        case .admitted: nil
        case .unauthorized: Self.refusal(api: api, shape: shape)
        case .rateLimited(let retryAfter, let limit): Self.rateLimited(api: api, retryAfter: retryAfter, limit: limit, shape: shape)
        }
    }

    /// The key a request presents: `Authorization: Bearer KEY` (scheme case-insensitive, as
    /// RFC 9110 §11.1 says), else `X-API-Key: KEY`; nil when neither is there or empty.
    static func presentedKey(in fields: HTTPFields) -> Substring? {
        if let authorization = fields[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let key = parts[1].drop(while: { $0 == " " })
                if !key.isEmpty { return key }
            }
        }
        if let key = fields[xAPIKey], !key.isEmpty { return Substring(key) }
        return nil
    }

    /// `X-API-Key`.
    static let xAPIKey = HTTPField.Name("X-API-Key")!

    /// The 401 for a request without a valid key, naming `api`, in `shape`.
    static func refusal(api: String, shape: GatewayAnswer.ErrorShape = .tern) -> GatewayAnswer {
        .error(
            status: 401, kind: .unauthorized,
            message: "API \(api) needs an API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY` (create one with `tern keys create \(api)`)",
            api: api, headers: [.wwwAuthenticate: "Bearer"], shape: shape)
    }

    /// The 429 for a request whose key used up its rate limit `limit`, with `Retry-After:
    /// retryAfter` (whole seconds), naming `api`, in `shape`.
    static func rateLimited(
        api: String, retryAfter: Int, limit: RateLimit, shape: GatewayAnswer.ErrorShape = .tern
    ) -> GatewayAnswer {
        .error(
            status: 429, kind: .rateLimited,
            message: "this API key's rate limit of \(limit) is used up; retry after \(retryAfter) s",
            api: api, headers: [.retryAfter: String(retryAfter)], shape: shape)
    }
}
