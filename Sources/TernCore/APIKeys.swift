import TernDigest

/// The rules of per-API keys (`networking.auth: api_key`), shared by the control plane, which
/// creates and stores them, and the gateway, which checks them. See docs/security.md.
///
/// A key is `tern_` and 64 hex digits (32 bytes from the system's cryptographic random source,
/// `getrandom(2)` on Linux). Only its SHA-256 is stored (a key has 256 bits of entropy, so an
/// unsalted fast hash is enough: nothing can be guessed from it), plus its first
/// ``prefixLength`` characters to tell keys apart in `tern keys list`.
public enum APIKeys {
    /// What every key starts with.
    public static let keyPrefix = "tern_"
    /// Characters of a key kept in clear for listing: `tern_` and 4 hex digits (16 of its 256 bits).
    public static let prefixLength = 9

    /// A new random key.
    public static func generate() -> String { keyPrefix + RandomHex.digits(64) }

    /// A new random id for a key (`key_` and 16 hex digits); not secret.
    public static func generateID() -> String { "key_" + RandomHex.digits(16) }

    /// The stored form of `key`: its SHA-256 as 64 lower-case hex digits.
    public static func hash(_ key: String) -> String { SHA256.hex(of: Array(key.utf8)) }

    /// The SHA-256 of `key` (32 bytes), as the gateway compares it.
    public static func digest(_ key: some Sequence<UInt8>) -> [UInt8] { SHA256.digest(of: Array(key)) }

    /// The 32 bytes of a stored hash (64 hex digits); nil when it is not one.
    public static func digest(fromHex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Comparisons whose time does not depend on where the inputs differ (for secrets: the
/// control-plane token, API key digests), so a caller cannot find a secret byte by byte by timing
/// the answers.
public enum ConstantTime {
    /// True when `a` and `b` are the same bytes. The time depends only on the lengths (a length
    /// difference returns at once: lengths are not secret here — tokens and digests have fixed ones).
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// True when `candidate` equals any of `set`; every element is compared in full (the time
    /// depends on the set's size, not on which one matched or where they differ).
    public static func isMember(_ candidate: [UInt8], of set: [[UInt8]]) -> Bool {
        var found = false
        for element in set where equals(candidate, element) { found = true }
        return found
    }
}

/// What the gateway knows of one API key: its SHA-256 and its rate limit. The control plane
/// gives the gateway these for each API (``RouteTable/setAPIKeys(api:keys:)``), never the key.
public struct GatewayKey: Sendable, Equatable {
    /// The key's SHA-256 (32 bytes, ``APIKeys/digest(_:)``).
    public var digest: [UInt8]
    /// Its rate limit; nil when it has none.
    public var rateLimit: RateLimit?

    /// Memberwise initialiser.
    public init(digest: [UInt8], rateLimit: RateLimit? = nil) {
        self.digest = digest
        self.rateLimit = rateLimit
    }
}
