import Logging
import TernCore

/// A ``ReplicaScaler`` in front of another (the backend) that records each API's new replica
/// count in the ``Store`` (``Store/setDesiredReplicas(api:count:)``), so that
/// ``ControlPlane/restore()`` brings an autoscaled API back with the count it had rather than
/// `init_replicas`.
///
/// It writes once per ``setReplicas(api:count:)`` call, and the autoscaler calls that only when
/// its decision changes the count (and on a wake-up from zero), so a tick that changes nothing
/// writes nothing. A failed write is logged; that API then comes back with its previous count
/// (or `init_replicas`) after a restart.
public struct ReplicaCountRecorder: ReplicaScaler {
    private let scaler: any ReplicaScaler
    private let store: Store
    private let logger: Logger

    /// Records the counts that `scaler` is asked to set in `store`.
    public init(scaler: any ReplicaScaler, store: Store, logger: Logger) {
        self.scaler = scaler
        self.store = store
        self.logger = logger
    }

    /// Sets the count on the wrapped scaler, then stores the count it reports (it ignores an
    /// unknown API, so nothing is stored for one).
    public func setReplicas(api: String, count: Int) async {
        await scaler.setReplicas(api: api, count: count)
        guard let now = await scaler.requestedReplicas(api: api) else { return }
        do {
            try store.setDesiredReplicas(api: api, count: now)
        } catch {
            logger.warning("could not store the replica count", metadata: ["api": "\(api)", "error": "\(error)"])
        }
    }

    /// The wrapped scaler's count.
    public func requestedReplicas(api: String) async -> Int? {
        await scaler.requestedReplicas(api: api)
    }
}
