/// The buckets of a fixed log-scale latency histogram in microseconds, as HdrHistogram lays them
/// out with 3 bits of precision: values 0–7 µs have a bucket each, and every power of two above
/// (8–15, 16–31, …, up to 2^32 µs ≈ 71 min) is split into 8 equal buckets. A bucket is at most
/// 1/8 of its lower bound wide, so its midpoint is within 6.25 % of any value in it. 240 buckets;
/// slower answers go into the last one.
///
/// Pure arithmetic on indices, so that counting an answer is a few shifts and an increment into
/// a preallocated array (``TrafficWindow``).
enum LatencyHistogram {
    /// Buckets per power of two (3 bits of precision).
    static let subBuckets = 8
    /// Number of buckets: 8 exact ones, then 8 per power of two from 2^3 to 2^31 µs.
    static let bucketCount = 240

    /// The bucket of a latency of `microseconds`.
    static func index(microseconds value: UInt64) -> Int {
        if value < 8 { return Int(value) }
        let octave = 63 - value.leadingZeroBitCount  // 2^octave ≤ value < 2^(octave+1); ≥ 3
        guard octave < 32 else { return bucketCount - 1 }
        let sub = Int((value >> UInt64(octave - 3)) & 7)
        return 8 * (octave - 2) + sub
    }

    /// The bucket of `duration` (negative durations count as 0).
    static func index(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let micros = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000)
        guard !micros.overflow else { return bucketCount - 1 }
        return index(microseconds: micros.partialValue &+ UInt64(attoseconds / 1_000_000_000_000))
    }

    /// The smallest value of bucket `index`, in µs, and its width (1 for the first 16 buckets).
    static func bounds(of index: Int) -> (lower: UInt64, width: UInt64) {
        if index < 8 { return (UInt64(index), 1) }
        let octave = index / 8 + 2
        let sub = UInt64(index % 8)
        return ((8 + sub) << UInt64(octave - 3), 1 << UInt64(octave - 3))
    }

    /// The value that stands for bucket `index`, in µs: its midpoint (e.g. bucket 8–15 µs of
    /// width 1 → its value; 9,216–10,239 µs → 9,727.5).
    static func representative(of index: Int) -> Double {
        let (lower, width) = bounds(of: index)
        return Double(lower) + Double(width - 1) / 2
    }

    /// The `quantile` (0…1) of the latencies counted in `counts` (``bucketCount`` entries), in
    /// µs: the representative of the bucket holding the value of rank ⌈quantile × n⌉ (at least
    /// 1); nil when nothing is counted.
    static func quantile(_ quantile: Double, of counts: [UInt64]) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((quantile * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return representative(of: index) }
        }
        return representative(of: bucketCount - 1)
    }
}
