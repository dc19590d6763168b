/// The connections of one replica and the requests outstanding on each.
///
/// Each connection carries up to `depth` requests (see ``ReplicaConnection/pipelineDepth``):
/// ``take()`` always picks a connection with the fewest outstanding, so every worker thread
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
    public mutating func take() -> ReplicaConnection? {
        var best: Int?
        var bestLoad = depth
        for step in 0..<connections.count {
            let index = (cursor + step) % connections.count
            let load = outstanding[ObjectIdentifier(connections[index]), default: 0]
            if load < bestLoad {
                best = index
                bestLoad = load
                if load == 0 { break }
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
