/// Go-style durations (`time.ParseDuration`), parsed exactly.
///
/// A duration is a sequence of decimal numbers, each with an optional fraction and a unit:
/// `10ms`, `60s`, `5m`, `1h30m`, `1.5s`, `.5h`. Units: `ns`, `us` (also `µs`, `μs`), `ms`, `s`,
/// `m`, `h`. As in Go, `0` alone needs no unit and a leading `+` is allowed.
///
/// Rejected: a number without a unit (`10`), negative durations (`-5s`), spaces (`5 m`), a
/// unit without a number (`s`), unknown units (`5d`), and anything beyond about 292 years.
///
/// ```swift
/// try DurationParser.milliseconds("1h30m")  // 5_400_000
/// try DurationParser.milliseconds("1.5s")   // 1_500
/// ```
public enum DurationParser {
    /// Parses a duration into whole milliseconds.
    ///
    /// A remainder below one millisecond (from `ns`, `us` or a fine fraction) is rounded up to
    /// the next millisecond, so a positive duration never becomes 0 ms: `1500us` → 2, `1ns` → 1.
    /// - Throws: ``DurationError``.
    public static func milliseconds(_ text: String) throws(DurationError) -> Int64 {
        let nanos = try nanoseconds(text)
        let (whole, remainder) = nanos.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder > 0 ? whole + 1 : whole
    }

    /// Parses a duration into nanoseconds, exactly (fraction digits beyond nanoseconds are
    /// dropped, as Go does).
    /// - Throws: ``DurationError``.
    public static func nanoseconds(_ text: String) throws(DurationError) -> Int64 {
        func fail(_ code: DurationError.Code) -> DurationError { DurationError(input: text, code: code) }

        var rest = Substring(text)
        if rest.first == "-" {
            // Go accepts negative durations; Tern has no use for them. `-0s` is still zero.
            guard let magnitude = try? nanoseconds(String(rest.dropFirst())) else { throw fail(.malformed) }
            if magnitude == 0 { return 0 }
            throw fail(.negative)
        }
        if rest.first == "+" { rest = rest.dropFirst() }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw fail(.malformed) }

        var total: Int64 = 0
        while !rest.isEmpty {
            let integer = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(integer.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !integer.isEmpty || !fraction.isEmpty else { throw fail(.malformed) }
            let unitText = rest.prefix { !($0.isASCII && $0.isNumber) && $0 != "." }
            rest = rest.dropFirst(unitText.count)
            guard !unitText.isEmpty else { throw fail(.missingUnit) }
            guard !unitText.contains(where: \.isWhitespace) else { throw fail(.malformed) }
            guard let unit = units[String(unitText)] else { throw fail(.unknownUnit(String(unitText))) }

            let digits = integer.drop { $0 == "0" }
            guard digits.count <= 18, let whole = Int64(digits.isEmpty ? "0" : digits) else { throw fail(.tooLarge) }
            var (value, overflow) = whole.multipliedReportingOverflow(by: unit)
            guard !overflow else { throw fail(.tooLarge) }
            // Fraction digits beyond 18 cannot matter at nanosecond precision.
            let fractionDigits = fraction.prefix(18)
            if let numerator = Int64(fractionDigits), numerator > 0 {
                var scale: Int64 = 1
                for _ in fractionDigits { scale *= 10 }
                // numerator < scale, so numerator × unit / scale < unit: the quotient fits.
                let part = scale.dividingFullWidth(numerator.multipliedFullWidth(by: unit)).quotient
                (value, overflow) = value.addingReportingOverflow(part)
                guard !overflow else { throw fail(.tooLarge) }
            }
            (total, overflow) = total.addingReportingOverflow(value)
            guard !overflow else { throw fail(.tooLarge) }
        }
        return total
    }

    /// Formats milliseconds the way users write durations: 300 000 → `5m`, 1500 → `1500ms`,
    /// 5 400 000 → `90m`, 7 200 000 → `2h`, 0 → `0s`.
    public static func format(milliseconds: Int64) -> String {
        if milliseconds == 0 { return "0s" }
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1_000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }

    private static let units: [String: Int64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}

/// Why a text is not a valid duration for ``DurationParser``.
public struct DurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason.
    public enum Code: Sendable, Equatable {
        /// Not a duration at all (`5 m`, `s`, `1..5s`).
        case malformed
        /// A number without a unit (`10`).
        case missingUnit
        /// A unit Tern does not know (`5d`, `10sec`).
        case unknownUnit(String)
        /// Below zero (`-5s`).
        case negative
        /// Beyond about 292 years.
        case tooLarge
    }

    /// The text as written.
    public var input: String
    /// The reason.
    public var code: Code

    /// Creates an error.
    public init(input: String, code: Code) {
        self.input = input
        self.code = code
    }

    /// A message for users, e.g. `"10" has no unit (examples: 10ms, 60s, 5m, 1h30m)`.
    public var description: String {
        let examples = "(examples: 10ms, 60s, 5m, 1h30m)"
        switch code {
        case .malformed: return "\"\(input)\" is not a duration \(examples)"
        case .missingUnit: return "\"\(input)\" has no unit \(examples)"
        case .unknownUnit(let unit): return "\"\(input)\" has an unknown unit \"\(unit)\" (units: ns, us, ms, s, m, h)"
        case .negative: return "\"\(input)\" is negative; a duration must be at least 0s"
        case .tooLarge: return "\"\(input)\" is too long"
        }
    }
}
