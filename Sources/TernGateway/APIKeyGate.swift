import HTTPTypes
import Synchronization
import TernCore

/// The key check of one API (`networking.auth: api_key`), held by its ``APIRouter`` and read on
/// every request before a replica is used.
///
/// The control plane pushes the digests of the API's keys (``Gateway/setAPIKeys(api:digests:)``);
/// the gateway never reads the store per request. An API without auth pays one relaxed atomic
/// load. With auth, the presented key is hashed (SHA-256) and compared in constant time with
/// every digest (``ConstantTime/isMember(_:of:)``). An API with auth and no key refuses every
/// request (closed by default).
final class APIKeyGate: Sendable {
    /// Mirrors `networking.auth == .apiKey`, readable without the lock.
    private let required: Atomic<Bool>
    /// The SHA-256 of each valid key.
    private let digests = Mutex<[[UInt8]]>([])

    /// A gate for `auth`, with no key yet.
    init(auth: APIAuth) {
        required = Atomic(auth == .apiKey)
    }

    /// Applies the API's `networking.auth` (after a redeploy).
    func configure(_ auth: APIAuth) {
        required.store(auth == .apiKey, ordering: .relaxed)
    }

    /// Replaces the valid keys' digests.
    func setDigests(_ new: [[UInt8]]) {
        digests.withLock { $0 = new }
    }

    /// True when the request with these header fields may use the API: it needs no key, or it
    /// carries a valid one (``presentedKey(in:)``).
    func admits(_ fields: HTTPFields) -> Bool {
        guard required.load(ordering: .relaxed) else { return true }
        guard let key = Self.presentedKey(in: fields) else { return false }
        let digest = APIKeys.digest(key.utf8)
        return digests.withLock { ConstantTime.isMember(digest, of: $0) }
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
}
