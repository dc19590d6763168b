import NIOCore
import NIOEmbedded
import Testing

@testable import TernGateway

/// The balancing decision of ``ReplicaSlots``: least-busy first, the caller's event loop as the
/// tie-break (optimisation log item 7 in docs/benchmarks.md).
@Suite struct ReplicaSlotsTests {
    /// Two event loops and `perLoop` connections on each, in the order loop A, loop B, A, B, …
    private func connections(perLoop: Int) -> (a: EmbeddedEventLoop, b: EmbeddedEventLoop, all: [ReplicaConnection]) {
        let a = EmbeddedEventLoop()
        let b = EmbeddedEventLoop()
        var all: [ReplicaConnection] = []
        for _ in 0..<perLoop {
            all.append(ReplicaConnection(channel: EmbeddedChannel(loop: a), accepts: ["payload"]))
            all.append(ReplicaConnection(channel: EmbeddedChannel(loop: b), accepts: ["payload"]))
        }
        return (a, b, all)
    }

    @Test func prefersAnIdleConnectionOnTheCallersLoop() throws {
        let (_, b, all) = connections(perLoop: 2)
        var slots = ReplicaSlots(connections: all, depth: 2)
        let first = slots.take(near: ObjectIdentifier(b))
        #expect(first === all[1])
        let second = slots.take(near: ObjectIdentifier(b))
        #expect(second === all[3])
    }

    @Test func anIdleConnectionElsewhereBeatsABusyOneOnTheCallersLoop() throws {
        let (_, b, all) = connections(perLoop: 1)
        var slots = ReplicaSlots(connections: all, depth: 2)
        #expect(slots.take(near: ObjectIdentifier(b)) === all[1])
        // Loop B's only connection now carries one request: the idle one on loop A wins.
        #expect(slots.take(near: ObjectIdentifier(b)) === all[0])
        // Both carry one: the tie goes to loop B's again, then every slot is taken.
        #expect(slots.take(near: ObjectIdentifier(b)) === all[1])
        #expect(slots.take(near: ObjectIdentifier(b)) === all[0])
        #expect(slots.take(near: ObjectIdentifier(b)) == nil)
    }

    @Test func withoutAPreferenceConnectionsAreTakenRoundRobin() throws {
        let (_, _, all) = connections(perLoop: 2)
        var slots = ReplicaSlots(connections: all, depth: 1)
        var taken: [ReplicaConnection] = []
        while let connection = slots.take() { taken.append(connection) }
        #expect(taken.count == 4)
        #expect(zip(taken, all).allSatisfy { $0 === $1 })
    }

    @Test func aGivenBackSlotIsTakenAgainFromTheCallersLoop() throws {
        let (a, b, all) = connections(perLoop: 1)
        var slots = ReplicaSlots(connections: all, depth: 1)
        #expect(slots.take(near: ObjectIdentifier(a)) === all[0])
        #expect(slots.take(near: ObjectIdentifier(a)) === all[1])
        #expect(slots.take(near: ObjectIdentifier(b)) == nil)
        slots.giveBack(all[1])
        slots.giveBack(all[0])
        #expect(slots.take(near: ObjectIdentifier(b)) === all[1])
        #expect(slots.take(near: ObjectIdentifier(b)) === all[0])
    }
}
