import TernCore

/// The decoded specs of the deployed revisions, one per API, so reading the deployed APIs
/// decodes each revision's `spec_json` once instead of on every read.
///
/// Why: `GET /v1/apis` (`tern get`) and every deploy's checks read every deployed revision;
/// with 1,000 APIs, decoding their specs with `JSONDecoder` was most of the control plane's
/// time for `tern get` (measured with `perf` and `bench/scale.sh`, docs/benchmarks.md "Scale").
///
/// An entry is used only when the stored JSON text is the same as the text it was decoded from,
/// so the cache can never return a stale spec: revision numbers restart at 1 after a delete, but
/// a different spec is different text. Pure value: the ``Store`` keeps it behind a lock.
struct SpecCache {
    private var entries: [String: (json: String, spec: APISpec)] = [:]
    /// How many times ``spec(api:json:decode:)`` decoded (for tests).
    private(set) var decodes = 0

    /// Creates an empty cache.
    init() {}

    /// APIs with a cached spec.
    var count: Int { entries.count }

    /// The spec that `json` (the `spec_json` of `api`'s deployed revision) holds: the cached one
    /// when it was decoded from the same text, else `decode(json)`, which then replaces `api`'s entry.
    /// - Throws: what `decode` throws (nothing is cached then).
    mutating func spec(api: String, json: String, decode: (String) throws -> APISpec) rethrows -> APISpec {
        if let entry = entries[api], entry.json == json { return entry.spec }
        let spec = try decode(json)
        decodes += 1
        entries[api] = (json, spec)
        return spec
    }

    /// Forgets `api` (deleted).
    mutating func remove(api: String) {
        entries.removeValue(forKey: api)
    }

    /// Forgets every API not in `apis` (the deployed ones, after a full read).
    mutating func keep(only apis: Set<String>) {
        entries = entries.filter { apis.contains($0.key) }
    }
}
