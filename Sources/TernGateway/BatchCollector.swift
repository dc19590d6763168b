import TernCore

/// Server-side batching as a pure state machine: it groups requests into batches of at most
/// `max_batch_size` and decides when each batch is sent, by `batch_wait`:
///
/// - ``BatchWait/adaptive`` (the default): a batch goes out on a free replica slot as soon as it
///   has as many items as the batch sent before it (at least one), or when it is full, or when
///   `batch_interval` has passed since its first item, whichever comes first. So a lone client
///   (every batch of one) is sent at once, with no wait; under load, batches form from what
///   arrives while the replicas are busy, and a freed slot does not take a part of the next wave
///   of clients before the rest of it arrives (16 closed-loop clients answered together send
///   again together: sending the first of them alone would split every batch in two). When the
///   load drops, one batch waits up to the interval, then the expected size follows. This is
///   Nagle's algorithm (RFC 896: send at once when nothing is outstanding, else collect) with a
///   free replica slot in place of the acknowledgement, and the previous batch's size as the
///   estimate of how many requests are on their way (Tern's own rule; measured in
///   docs/benchmarks.md, optimisation log item 13).
/// - ``BatchWait/fullInterval``: Cortex 0.25's fixed wait: a batch is sent only when it is full
///   or `batch_interval` after its first item arrived; free slots do not matter.
///
/// The owner (``APIRouter``) passes the current instant and whether a slot is free in, performs
/// what each decision asks for (arm a timer, send a batch) and calls ``tick(now:)`` when a timer
/// fires and ``slotFreed()`` when a slot frees with no batch queued for it. Items keep their
/// arrival order inside a batch, and batches are sent in the order they were opened. The type
/// has no clock, no I/O and no concurrency, so tests drive it with made-up instants.
///
/// Public only for bench/micro; see ReplicaFrame.swift.
public struct BatchCollector<Item, Instant: InstantProtocol> {
    /// What the owner does after ``add(_:now:slotFree:)``.
    public enum Decision {
        /// The item opened a new batch: arm one timer for `deadline` (the item's arrival plus
        /// the interval) and call ``tick(now:)`` when it fires.
        case armTimer(deadline: Instant)
        /// The item joined the open batch, which is sent at `until` at the latest (its timer is
        /// already armed).
        case wait(until: Instant)
        /// Send these items now, as one batch, in this order: the batch is full, or (adaptive) a
        /// slot is free. The batch takes a free slot, or waits in the queue for one.
        case flush([Item])
    }

    /// `max_batch_size`: most items in one batch (at least 1).
    let maxBatchSize: Int
    /// `batch_interval`: longest time the first item of a batch waits for the batch to be sent.
    let interval: Instant.Duration
    /// `batch_wait`: whether a free slot sends the open batch at once.
    let wait: BatchWait
    /// The items of the open batch, oldest first (empty when no batch is open).
    private(set) var pending: [Item] = []
    /// (adaptive) How many items the open batch needs before a free slot takes it: the size of
    /// the last batch sent, at least 1.
    private(set) var expected = 1
    /// When the open batch must be sent; nil when no batch is open.
    private(set) var deadline: Instant?

    /// Creates an empty collector.
    /// - Parameters:
    ///   - maxBatchSize: most items in one batch; at least 1.
    ///   - interval: how long the first item of a batch may wait for it to be sent.
    ///   - wait: ``BatchWait/adaptive`` to send at once on a free slot, ``BatchWait/fullInterval``
    ///     to hold every batch until it is full or its interval has passed.
    public init(maxBatchSize: Int, interval: Instant.Duration, wait: BatchWait) {
        precondition(maxBatchSize >= 1, "max_batch_size must be at least 1")
        self.maxBatchSize = maxBatchSize
        self.interval = interval
        self.wait = wait
    }

    /// Adds an item that arrived at `now`. `slotFree` tells whether a replica slot is free for a
    /// batch now (the owner then gets it for a ``Decision/flush(_:)`` in the same critical
    /// section); only ``BatchWait/adaptive`` reads it. With a slot free, the open batch goes out
    /// with the item once it has ``expected`` items.
    public mutating func add(_ item: Item, now: Instant, slotFree: Bool) -> Decision {
        pending.append(item)
        if pending.count >= maxBatchSize || (slotFree && takesFreeSlot) {
            return .flush(takeBatch())
        }
        if let deadline {
            return .wait(until: deadline)
        }
        let opened = now.advanced(by: interval)
        deadline = opened
        return .armTimer(deadline: opened)
    }

    /// A replica slot is free and no batch waits in the queue for it (one just freed, or a
    /// replica was added): with ``BatchWait/adaptive``, returns the open batch to send on that
    /// slot at once when it has ``expected`` items, whatever its deadline; nil otherwise (also
    /// with ``BatchWait/fullInterval``, or when no batch is open). Its timer, already armed, then
    /// finds no batch or a later deadline.
    public mutating func slotFreed() -> [Item]? {
        takesFreeSlot ? takeBatch() : nil
    }

    /// (adaptive) The open batch is large enough for a free slot: it has ``expected`` items (so
    /// at least one).
    private var takesFreeSlot: Bool { wait == .adaptive && pending.count >= expected }

    /// Called when a timer fires (or at any time): returns the open batch once its deadline
    /// has passed at `now`, else nil. A timer armed for a batch that was since sent (full, or on
    /// a free slot) finds a later deadline (or none) and flushes nothing.
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
        expected = max(1, batch.count)
        return batch
    }
}

extension BatchCollector: Sendable where Item: Sendable, Instant: Sendable, Instant.Duration: Sendable {}
extension BatchCollector.Decision: Equatable where Item: Equatable {}
