import Synchronization

/// A clock whose time moves only when a test says so, for code that takes an injected
/// `any Clock<Duration>` (the supervisor's loops, ``LocalBackendConfiguration``'s `clock`).
///
/// Modelled on Hummingbird's `MockClock` (`Tests/HummingbirdCoreTests/MockClock.swift`): time
/// starts at ``Instant/zero`` and stands still; ``advance(by:)`` moves it forward and wakes, in
/// deadline order, every sleeper whose deadline it reached. A sleep whose deadline has passed
/// returns at once; a cancelled sleeper throws `CancellationError`. Since the code under test
/// runs in other tasks, ``waitForSleepers(_:)`` lets a test wait until that code is asleep
/// before it moves time, so nothing depends on real time:
///
/// ```swift
/// let clock = ManualClock()
/// let wait = Task { try await clock.sleep(for: .seconds(300)) }
/// await clock.waitForSleepers(1)
/// clock.advance(by: .seconds(300))   // `wait` finishes now, without 300 s passing
/// ```
public final class ManualClock: Clock, Sendable {
    /// A point on the manual clock: the time elapsed since it started.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock's start.
        public var offset: Duration

        /// The instant `offset` after the start.
        public init(offset: Duration) { self.offset = offset }

        /// The clock's start.
        public static let zero = Instant(offset: .zero)

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        /// The time from `self` to `other` (negative when `other` is earlier).
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        /// Earlier instants are smaller.
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        /// `+12.5 seconds` style.
        public var description: String { "+\(offset)" }
    }

    private struct Sleeper {
        var id: Int
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant.zero
        var nextID = 0
        var sleepers: [Sleeper] = []
        /// Sleeps cancelled before their continuation was stored.
        var cancelledIDs: Set<Int> = []
        /// Tests waiting in ``waitForSleepers(_:)``: how many sleepers each waits for.
        var sleeperWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// Removes the waiters whose count of sleepers is reached and returns them, to resume
        /// outside the lock.
        mutating func takeSatisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
            let satisfied = sleeperWaiters.filter { $0.count <= sleepers.count }.map(\.continuation)
            sleeperWaiters.removeAll { $0.count <= sleepers.count }
            return satisfied
        }
    }

    private let state = Mutex(State())

    /// A clock at ``Instant/zero`` with no sleeper.
    public init() {}

    /// The current time; moves only through ``advance(by:)`` and ``advance(to:)``.
    public var now: Instant { state.withLock { $0.now } }

    /// Zero: any duration can be slept exactly.
    public var minimumResolution: Duration { .zero }

    /// Tasks sleeping on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until ``now`` reaches `deadline` (returns at once when it has); `tolerance` is
    /// ignored.
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try Task.checkCancellation()
        let id: Int? = state.withLock { state in
            guard deadline > state.now else { return nil }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Registration { case cancelled, due, asleep([CheckedContinuation<Void, Never>]) }
                let registration: Registration = state.withLock { state in
                    if state.cancelledIDs.remove(id) != nil { return .cancelled }
                    if deadline <= state.now { return .due }  // time moved meanwhile
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return .asleep(state.takeSatisfiedWaiters())
                }
                switch registration {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .due: continuation.resume()
                case .asleep(let waiters): for waiter in waiters { waiter.resume() }
                }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { state in
                if let index = state.sleepers.firstIndex(where: { $0.id == id }) {
                    return state.sleepers.remove(at: index)
                }
                state.cancelledIDs.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        state.withLock { _ = $0.cancelledIDs.remove(id) }
    }

    /// Moves time forward by `duration` (not backwards: a negative duration does nothing) and
    /// wakes every sleeper whose deadline is reached, earliest first.
    public func advance(by duration: Duration) {
        advance(to: now.advanced(by: duration))
    }

    /// Moves time forward to `instant` (no-op when it is not later than ``now``) and wakes every
    /// sleeper whose deadline is reached, earliest first.
    public func advance(to instant: Instant) {
        let woken: [Sleeper] = state.withLock { state in
            guard instant > state.now else { return [] }
            state.now = instant
            let due = state.sleepers.filter { $0.deadline <= instant }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            state.sleepers.removeAll { $0.deadline <= instant }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks sleep on this clock (at once when they already do).
    public func waitForSleepers(_ count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                guard state.sleepers.count < count else { return true }
                state.sleeperWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
