/// Server-side batching as a pure state machine: it groups requests into batches of at most
/// `max_batch_size`, flushing a batch when it is full or when `batch_interval` has passed since
/// its first request arrived.
///
/// The owner (``APIRouter``) passes the current instant in, performs what each decision asks
/// for (arm a timer, send a batch) and calls ``tick(now:)`` when a timer fires. Items keep
/// their arrival order inside a batch, and batches are flushed in the order they were opened.
/// The type has no clock, no I/O and no concurrency, so tests drive it with made-up instants.
///
/// Public only for bench/micro; see ReplicaFrame.swift.
public struct BatchCollector<Item, Instant: InstantProtocol> {
    /// What the owner does after ``add(_:now:)``.
    public enum Decision {
        /// The item opened a new batch: arm one timer for `deadline` (the item's arrival plus
        /// the interval) and call ``tick(now:)`` when it fires.
        case armTimer(deadline: Instant)
        /// The item joined the open batch, which is flushed at `until` at the latest (its
        /// timer is already armed).
        case wait(until: Instant)
        /// The batch is full: send these items now, as one batch, in this order.
        case flush([Item])
    }

    /// `max_batch_size`: most items in one batch (at least 1).
    let maxBatchSize: Int
    /// `batch_interval`: longest time the first item of a batch waits for the batch to fill.
    let interval: Instant.Duration
    /// The items of the open batch, oldest first (empty when no batch is open).
    private(set) var pending: [Item] = []
    /// When the open batch must be flushed; nil when no batch is open.
    private(set) var deadline: Instant?

    /// Creates an empty collector.
    /// - Parameters:
    ///   - maxBatchSize: most items in one batch; at least 1.
    ///   - interval: how long the first item of a batch may wait for it to fill.
    public init(maxBatchSize: Int, interval: Instant.Duration) {
        precondition(maxBatchSize >= 1, "max_batch_size must be at least 1")
        self.maxBatchSize = maxBatchSize
        self.interval = interval
    }

    /// Adds an item that arrived at `now`.
    public mutating func add(_ item: Item, now: Instant) -> Decision {
        pending.append(item)
        if pending.count >= maxBatchSize {
            return .flush(takeBatch())
        }
        if let deadline {
            return .wait(until: deadline)
        }
        let opened = now.advanced(by: interval)
        deadline = opened
        return .armTimer(deadline: opened)
    }

    /// Called when a timer fires (or at any time): returns the open batch once its deadline
    /// has passed at `now`, else nil. A timer armed for a batch that was since flushed full
    /// finds a later deadline (or none) and flushes nothing.
    public mutating func tick(now: Instant) -> [Item]? {
        guard let deadline, now >= deadline else { return nil }
        return takeBatch()
    }

    /// Returns the open batch at once, whatever its deadline (nil when none is open); used when
    /// the settings change or the API goes away.
    public mutating func flushNow() -> [Item]? {
        pending.isEmpty ? nil : takeBatch()
    }

    private mutating func takeBatch() -> [Item] {
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        deadline = nil
        return batch
    }
}

extension BatchCollector: Sendable where Item: Sendable, Instant: Sendable, Instant.Duration: Sendable {}
extension BatchCollector.Decision: Equatable where Item: Equatable {}
