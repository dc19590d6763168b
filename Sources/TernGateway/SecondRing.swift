/// A ring of per-second buckets covering the last `seconds` seconds: the storage of
/// ``TrafficWindow`` and ``PredictionWindow``.
///
/// Time is an input: each call names the second it is about (a count of whole seconds since any
/// fixed origin, e.g. ``second(of:)`` of an injected clock's reading). A bucket is reused for a
/// new second by `reset`, in place, so recording allocates nothing once the ring is made.
struct SecondRing<Bucket> {
    /// The window's length in seconds.
    let seconds: Int
    private var buckets: [Bucket]
    /// The second each bucket holds; `Int64.min` for one never used.
    private var stamps: [Int64]

    /// A ring of `seconds` buckets (at least 1), each starting as `empty`.
    init(seconds: Int, empty: Bucket) {
        self.seconds = max(1, seconds)
        self.buckets = Array(repeating: empty, count: self.seconds)
        self.stamps = Array(repeating: .min, count: self.seconds)
    }

    /// The whole seconds of `now` (time since the origin; negative counts as 0).
    static func second(of now: Duration) -> Int64 { max(0, now.components.seconds) }

    /// Updates the bucket of `second`; when it held an older second, `reset` clears it first.
    /// A second older than the window is dropped.
    mutating func update(
        at second: Int64, reset: (inout Bucket) -> Void, _ body: (inout Bucket) -> Void
    ) {
        let slot = Int(second % Int64(seconds))
        if stamps[slot] != second {
            guard stamps[slot] < second else { return }  // older than what the slot holds: expired
            reset(&buckets[slot])
            stamps[slot] = second
        }
        body(&buckets[slot])
    }

    /// Calls `body` with each bucket of the window that ends at `second` (that second and the
    /// `seconds - 1` before it), oldest slot first.
    func forEach(endingAt second: Int64, _ body: (Bucket) -> Void) {
        for slot in 0..<seconds where stamps[slot] <= second && stamps[slot] > second - Int64(seconds) {
            body(buckets[slot])
        }
    }
}
