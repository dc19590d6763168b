/// Random lower-case hex text from the system's cryptographic random source
/// (`SystemRandomNumberGenerator`: `getrandom(2)` on Linux), for secrets and ids: the
/// control-plane token, API keys and their ids, job and queue tokens, lease receipts.
public enum RandomHex {
    /// `count` random hex digits, 4 bits of entropy each (so 64 digits are 256 bits).
    public static func digits(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<count).map { _ in alphabet[Int.random(in: 0..<16, using: &generator)] }, as: UTF8.self)
    }
}
