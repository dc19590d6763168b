/// Allowed values of a number, with how messages say it (`between 1 and 64`, `at least 0`,
/// `greater than 0`, `at least 0 and less than 1`).
struct Limits<T: Comparable> {
    var lower: T?
    var lowerInclusive = true
    var upper: T?
    var upperInclusive = true

    static func atLeast(_ value: T) -> Limits { Limits(lower: value) }
    static func greaterThan(_ value: T) -> Limits { Limits(lower: value, lowerInclusive: false) }
    static func between(_ lower: T, _ upper: T) -> Limits { Limits(lower: lower, upper: upper) }
    static func greaterThan(_ lower: T, atMost upper: T) -> Limits {
        Limits(lower: lower, lowerInclusive: false, upper: upper)
    }
    static func atLeast(_ lower: T, below upper: T) -> Limits {
        Limits(lower: lower, upper: upper, upperInclusive: false)
    }

    func contains(_ value: T) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    func describe(_ format: (T) -> String) -> String {
        switch (lower, upper) {
        case let (lower?, upper?) where lowerInclusive && upperInclusive:
            return "between \(format(lower)) and \(format(upper))"
        case let (lower?, upper?):
            return "\(lowerInclusive ? "at least" : "greater than") \(format(lower)) "
                + "and \(upperInclusive ? "at most" : "less than") \(format(upper))"
        case let (lower?, nil): return "\(lowerInclusive ? "at least" : "greater than") \(format(lower))"
        case let (nil, upper?): return "\(upperInclusive ? "at most" : "less than") \(format(upper))"
        case (nil, nil): return "any value"
        }
    }
}

/// A problem with a value, for parse closures given to ``YAMLReader``.
struct ValueProblem: Error, CustomStringConvertible {
    let description: String
}

/// Formats a number as users write it: `8` rather than `8.0`, `0.75` as is.
func formatNumber(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
}
