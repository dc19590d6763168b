/// Kubernetes resource quantities, parsed exactly (no floating point).
///
/// The grammar is Kubernetes': an optional `+`, a decimal number (`2`, `0.5`, `.5`, `5.`), then
/// at most one suffix:
/// - decimal SI: `n` (10⁻⁹), `u` (10⁻⁶), `m` (10⁻³), `k`, `M`, `G`, `T`, `P`, `E` (10³ … 10¹⁸);
/// - binary SI: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei` (2¹⁰ … 2⁶⁰);
/// - a decimal exponent: `e3`, `E-2`.
///
/// Negative values, spaces, unknown suffixes and more than 18 significant digits are rejected,
/// and so is a value finer than the unit asked for (below 1 millicore for CPU, a fraction of a
/// byte for memory) rather than rounding it silently.
///
/// ```swift
/// try Quantity.cpuMillicores("200m")  // 200
/// try Quantity.cpuMillicores("0.5")   // 500
/// try Quantity.bytes("1Gi")           // 1_073_741_824
/// try Quantity.bytes("129M")          // 129_000_000
/// ```
public enum Quantity {
    /// Parses a CPU quantity into millicores: `"200m"` → 200, `"0.5"` → 500, `"2"` → 2000.
    ///
    /// A YAML number (`cpu: 1`) is parsed from its text the same way (1 → 1000).
    /// - Throws: ``QuantityError`` for malformed, negative, too large, or finer than 1m values.
    public static func cpuMillicores(_ text: String) throws(QuantityError) -> Int {
        let value = try parse(text, scaleExponent: 3, kind: .cpu)
        guard let millicores = Int(exactly: value) else {
            throw QuantityError(input: text, kind: .cpu, code: .tooLarge)
        }
        return millicores
    }

    /// Parses a memory quantity into bytes: `"1Gi"` → 1 073 741 824, `"129M"` → 129 000 000,
    /// `"128974848"` → 128 974 848, `"1e3"` → 1000.
    /// - Throws: ``QuantityError`` for malformed, negative, too large, or fractional-byte values.
    public static func bytes(_ text: String) throws(QuantityError) -> Int64 {
        try parse(text, scaleExponent: 0, kind: .memory)
    }

    /// Formats millicores the way users write them: 2000 → `2`, 500 → `500m`.
    public static func formatMillicores(_ millicores: Int) -> String {
        millicores % 1000 == 0 ? "\(millicores / 1000)" : "\(millicores)m"
    }

    /// Formats bytes with the largest binary suffix that divides them: 1 073 741 824 → `1Gi`,
    /// 129 000 000 → `129M`, 1 000 001 → `1000001`.
    public static func formatBytes(_ bytes: Int64) -> String {
        guard bytes != 0 else { return "0" }
        for (suffix, shift) in binarySuffixes.reversed() where bytes % (Int64(1) << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        for (suffix, exponent) in decimalSuffixes.reversed() where exponent > 0 {
            let unit = power(10, exponent)!
            if bytes % unit == 0 { return "\(bytes / unit)\(suffix)" }
        }
        return "\(bytes)"
    }

    private static let decimalSuffixes: [(String, Int)] = [
        ("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18),
    ]
    private static let binarySuffixes: [(String, Int)] = [
        ("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60),
    ]

    /// Returns `text × 10^scaleExponent` as an exact integer.
    private static func parse(_ text: String, scaleExponent: Int, kind: QuantityError.Kind) throws(QuantityError)
        -> Int64
    {
        func fail(_ code: QuantityError.Code) -> QuantityError { QuantityError(input: text, kind: kind, code: code) }

        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let suffix = rest.dropFirst(number.count)
        let parts = number.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2, number.contains(where: \.isNumber) else { throw fail(.malformed) }
        let integerDigits = parts[0]
        let fractionDigits = parts.count == 2 ? parts[1] : ""

        var exponent10 = scaleExponent - fractionDigits.count
        var exponent2 = 0
        if let (_, exponent) = decimalSuffixes.first(where: { $0.0 == suffix }) {
            exponent10 += exponent
        } else if let (_, shift) = binarySuffixes.first(where: { $0.0 == suffix }) {
            exponent2 = shift
        } else if let first = suffix.first, first == "e" || first == "E", suffix.count > 1 {
            let digits = suffix.dropFirst()
            let unsigned = digits.first == "+" || digits.first == "-" ? digits.dropFirst() : digits
            guard !unsigned.isEmpty, unsigned.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw fail(.malformed)
            }
            guard let exponent = Int(digits), abs(exponent) < 1000 else {
                throw fail(digits.first == "-" ? .tooPrecise : .tooLarge)
            }
            exponent10 += exponent
        } else if !suffix.isEmpty {
            throw fail(.malformed)
        }

        // Significant digits without leading zeros; trailing zeros move into the exponent.
        var digits = Substring(integerDigits + fractionDigits).drop { $0 == "0" }
        guard !digits.isEmpty else { return 0 }
        if negative { throw fail(.negative) }
        while digits.last == "0" {
            digits = digits.dropLast()
            exponent10 += 1
        }
        guard digits.count <= 18, var mantissa = Int64(digits) else {
            throw fail(exponent10 >= 0 ? .tooLarge : .tooPrecise)
        }
        if exponent10 < 0 {
            // Divide by 10^k = 5^k · 2^k exactly, or fail: take the 5s from the mantissa and the
            // 2s from the binary suffix first, then from the mantissa.
            for _ in 0 ..< -exponent10 {
                guard mantissa % 5 == 0 else { throw fail(.tooPrecise) }
                mantissa /= 5
                if exponent2 > 0 {
                    exponent2 -= 1
                } else if mantissa % 2 == 0 {
                    mantissa /= 2
                } else {
                    throw fail(.tooPrecise)
                }
            }
            exponent10 = 0
        }
        guard let scale10 = power(10, exponent10), exponent2 < 63 else { throw fail(.tooLarge) }
        let (scaled, overflow10) = mantissa.multipliedReportingOverflow(by: scale10)
        let (value, overflow2) = scaled.multipliedReportingOverflow(by: Int64(1) << exponent2)
        guard !overflow10, !overflow2 else { throw fail(.tooLarge) }
        return value
    }

    /// `base^exponent`, or nil when it does not fit an `Int64`.
    private static func power(_ base: Int64, _ exponent: Int) -> Int64? {
        var result: Int64 = 1
        for _ in 0..<exponent {
            let (next, overflow) = result.multipliedReportingOverflow(by: base)
            if overflow { return nil }
            result = next
        }
        return result
    }
}

/// Why a text is not a valid ``Quantity``.
public struct QuantityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the quantity measures, which decides the smallest unit and the examples shown.
    public enum Kind: Sendable, Equatable {
        /// CPU, in millicores (smallest unit 1m).
        case cpu
        /// Memory, in bytes (smallest unit 1 byte).
        case memory
    }

    /// The reason, as an open set of static members.
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable { case malformed, negative, tooPrecise, tooLarge }
        private let base: Base
        /// Not a number with an allowed suffix (e.g. `two`, `5 m`, `1KB`).
        public static let malformed = Code(base: .malformed)
        /// Below zero.
        public static let negative = Code(base: .negative)
        /// Finer than the smallest unit (1m of CPU, 1 byte of memory).
        public static let tooPrecise = Code(base: .tooPrecise)
        /// Beyond what 64 bits hold.
        public static let tooLarge = Code(base: .tooLarge)
    }

    /// The text as written.
    public var input: String
    /// CPU or memory.
    public var kind: Kind
    /// The reason.
    public var code: Code

    /// Creates an error.
    public init(input: String, kind: Kind, code: Code) {
        self.input = input
        self.kind = kind
        self.code = code
    }

    /// A message for users, e.g. `"two" is not a CPU quantity (examples: 200m, 0.5, 2)`.
    public var description: String {
        let what = kind == .cpu ? "a CPU quantity" : "a memory quantity"
        let examples = kind == .cpu ? "200m, 0.5, 2" : "512Mi, 1Gi, 129M, 128974848"
        switch code {
        case .negative: return "\"\(input)\" is negative; \(what) must be at least 0"
        case .tooLarge: return "\"\(input)\" is too large"
        case .tooPrecise:
            return kind == .cpu
                ? "\"\(input)\" is finer than 1m (one thousandth of a CPU, the smallest unit)"
                : "\"\(input)\" is not a whole number of bytes"
        default: return "\"\(input)\" is not \(what) (examples: \(examples))"
        }
    }
}
