/// Conversions and products that clamp at the bounds of `Int` instead of trapping, for
/// arithmetic on configuration values: the parser bounds every key, but a spec stored by an
/// older version (or built in code) may hold anything, and must never crash the server.
extension Int {
    /// `value` rounded toward zero and clamped to `Int.min…Int.max`; NaN becomes 0.
    ///
    /// ```swift
    /// Int(saturating: 2.7)     // 2
    /// Int(saturating: 1e300)   // Int.max
    /// Int(saturating: .nan)    // 0
    /// ```
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 0x1p63 {
            self = .max
        } else if value < -0x1p63 {
            self = .min
        } else {
            self = Int(value)
        }
    }

    /// `self × other`, clamped to `Int.min…Int.max` on overflow.
    public func multipliedSaturating(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// `self + other`, clamped to `Int.min…Int.max` on overflow.
    public func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}
