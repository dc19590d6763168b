/// The form of a request id (`X-Request-ID`) that Tern keeps from a client and finds again in
/// log lines: 1–128 bytes of ASCII letters, digits and `-._:@/+=`.
///
/// Commas, spaces, brackets and quotes are excluded so that an id survives a log line's
/// `[<id>] ` prefix and a batch's comma-joined id list unambiguously.
public enum RequestIDText {
    /// The longest id kept, in bytes.
    public static let maximumLength = 128

    /// Whether `id` has the form (see the type's description).
    public static func isValid(_ id: some StringProtocol) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: "="):
                true
            default: false
            }
        }
    }
}
