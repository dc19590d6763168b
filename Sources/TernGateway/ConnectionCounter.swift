import Synchronization

/// How many client connections the gateway holds open, against a limit
/// (``ConnectionLimits/maxConnections``). Shared by every connection's
/// ``ProtocolErrorResponder``, on any event loop.
final class ConnectionCounter: Sendable {
    /// Most connections open at once.
    let limit: Int
    private let count = Atomic<Int>(0)

    /// - Parameter limit: at least 1.
    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Connections counted now.
    var current: Int { count.load(ordering: .relaxed) }

    /// Counts one more connection and returns true, or returns false (counting nothing) when
    /// `limit` are already open.
    func admit() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// One admitted connection closed.
    func release() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}
