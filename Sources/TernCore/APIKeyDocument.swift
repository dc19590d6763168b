import Foundation

/// `GET /v1/keys`: one API key as listed — never the key itself (only its first
/// ``APIKeys/prefixLength`` characters).
public struct APIKeyDocument: Codable, Sendable, Equatable {
    /// The key's id (`key_…`), for `tern keys revoke`.
    public var id: String
    /// The API it opens.
    public var api: String
    /// When it was created.
    public var created: Date
    /// Its first characters, e.g. `tern_3f9a`.
    public var prefix: String
    /// Its rate limit (`rate_limit`, absent when it has none: the key is not limited).
    public var rateLimit: RateLimit?

    /// Memberwise initialiser.
    public init(id: String, api: String, created: Date, prefix: String, rateLimit: RateLimit? = nil) {
        self.id = id
        self.api = api
        self.created = created
        self.prefix = prefix
        self.rateLimit = rateLimit
    }

    private enum CodingKeys: String, CodingKey {
        case id, api, created, prefix
        case rateLimit = "rate_limit"
    }
}

/// `POST /v1/apis/{name}/keys`'s optional body: what the new key is allowed.
public struct APIKeyRequest: Codable, Sendable, Equatable {
    /// The key's rate limit (`rate_limit`); none when absent.
    public var rateLimit: RateLimit?

    /// Memberwise initialiser.
    public init(rateLimit: RateLimit? = nil) {
        self.rateLimit = rateLimit
    }

    private enum CodingKeys: String, CodingKey {
        case rateLimit = "rate_limit"
    }
}

/// `POST /v1/apis/{name}/keys`: a new key, the only time the key itself is shown.
public struct CreatedAPIKey: Codable, Sendable, Equatable {
    /// What is stored and listed.
    public var document: APIKeyDocument
    /// The key (`tern_` and 64 hex digits); the server keeps only its SHA-256.
    public var key: String

    /// Memberwise initialiser.
    public init(document: APIKeyDocument, key: String) {
        self.document = document
        self.key = key
    }

    private enum CodingKeys: String, CodingKey { case key }

    /// Encodes one flat object: the document's fields and `key`.
    public func encode(to encoder: any Encoder) throws {
        try document.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
    }

    /// Decodes the flat object ``encode(to:)`` writes.
    public init(from decoder: any Decoder) throws {
        document = try APIKeyDocument(from: decoder)
        key = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .key)
    }
}
