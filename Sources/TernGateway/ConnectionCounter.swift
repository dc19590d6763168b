import Synchronization

/// How many client connections the gateway holds open, against a limit
/// (``ConnectionLimits/maxConnections``). Shared by every connection's
/// ``ProtocolErrorResponder``, on any event loop.
///
/// Connections refused over the limit are counted too, against a smaller budget
/// (``refusalLimit``, an eighth of the limit): each holds its descriptor while its 503 lingers
/// (``LingeringClose``), so a burst of refused clients could otherwise use up the descriptors the
/// limit keeps in reserve — and at `EMFILE` NIO's accept loop spins on the listening socket and
/// libdispatch's thread-pool monitor aborts the process (it cannot open `/proc/self/task/…/stat`;
/// seen as SIGILL in `_dispatch_workq_monitor_pools` under `bench/faults/fd_exhaustion.sh`).
/// Past the budget a refused connection is closed at once, without an answer.
final class ConnectionCounter: Sendable {
    /// Most connections open at once.
    var limit: Int { open.limit }
    /// Most refused connections whose 503 may linger at once.
    var refusalLimit: Int { refused.limit }
    private let open: BoundedCount
    private let refused: BoundedCount

    /// - Parameter limit: at least 1.
    init(limit: Int) {
        open = BoundedCount(limit: max(1, limit))
        refused = BoundedCount(limit: max(1, limit / 8))
    }

    /// Connections counted now.
    var current: Int { open.current }

    /// Counts one more connection and returns true, or returns false (counting nothing) when
    /// `limit` are already open.
    func admit() -> Bool { open.take() }

    /// One admitted connection closed.
    func release() { open.give() }

    /// Counts one more refused connection answered with a lingering 503 and returns true, or
    /// returns false (counting nothing) when ``refusalLimit`` already linger: close it at once.
    func admitRefusal() -> Bool { refused.take() }

    /// One refused connection counted by ``admitRefusal()`` closed.
    func releaseRefusal() { refused.give() }
}

/// A count that never passes `limit`, safe from any thread (one atomic add per take).
private final class BoundedCount: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var current: Int { count.load(ordering: .relaxed) }

    /// Adds one and returns true, or returns false (adding nothing) when `limit` are counted.
    func take() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// Removes one that ``take()`` added.
    func give() { count.wrappingSubtract(1, ordering: .relaxed) }
}
