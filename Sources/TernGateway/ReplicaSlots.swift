/// The connections of one replica and the requests outstanding on each.
///
/// Each connection carries up to `depth` requests (see ``ReplicaConnection/pipelineDepth``):
/// ``take(near:)`` always picks a connection with the fewest outstanding, so every worker thread
/// gets a request before any gets a second one staged behind it.
///
/// Public only for bench/micro; see ReplicaFrame.swift.
public struct ReplicaSlots {
    private(set) var connections: [ReplicaConnection]
    /// Requests a connection may carry at once.
    let depth: Int
    private var outstanding: [ObjectIdentifier: Int] = [:]
    private var cursor = 0

    /// Slots over `connections`, each carrying up to `depth` requests, all free.
    public init(connections: [ReplicaConnection], depth: Int) {
        self.connections = connections
        self.depth = depth
    }

    /// Slots in all: connections × depth.
    var capacity: Int { connections.count * depth }

    /// Reserves a slot on the least-busy connection, or nil when every slot is taken.
    ///
    /// Among the least-busy connections, one served by the event loop `near` (the
    /// `ObjectIdentifier` of the caller's loop, see ``ReplicaConnection/eventLoopID``) wins;
    /// the others follow round-robin from the last pick. The preference never overrides load:
    /// an idle connection on another loop beats a busy one on the caller's, so every worker
    /// thread still gets a request before any gets a second (the balancing is unchanged; only
    /// the tie-break avoids handing the request and its response between event-loop threads).
    public mutating func take(near loop: ObjectIdentifier? = nil) -> ReplicaConnection? {
        var best: Int?
        var bestLoad = depth
        var bestIsNear = false
        for step in 0..<connections.count {
            let index = (cursor + step) % connections.count
            let load = outstanding[ObjectIdentifier(connections[index]), default: 0]
            let isNear = loop != nil && connections[index].eventLoopID == loop
            if load < bestLoad || (load == bestLoad && best != nil && isNear && !bestIsNear) {
                best = index
                bestLoad = load
                bestIsNear = isNear
                if load == 0 && (isNear || loop == nil) { break }
            }
        }
        guard let best else { return nil }
        cursor = (best + 1) % connections.count
        outstanding[ObjectIdentifier(connections[best]), default: 0] += 1
        return connections[best]
    }

    /// Returns a slot of `connection`.
    public mutating func giveBack(_ connection: ReplicaConnection) {
        let key = ObjectIdentifier(connection)
        if let count = outstanding[key], count > 0 { outstanding[key] = count - 1 }
    }

    /// Forgets a broken connection; returns how many of its slots were free (lost capacity
    /// beyond the leases that fail on their own).
    mutating func drop(_ connection: ReplicaConnection) -> Int {
        guard let index = connections.firstIndex(where: { $0 === connection }) else { return 0 }
        connections.remove(at: index)
        let busy = outstanding.removeValue(forKey: ObjectIdentifier(connection)) ?? 0
        cursor = connections.isEmpty ? 0 : cursor % connections.count
        return max(0, depth - busy)
    }
}
