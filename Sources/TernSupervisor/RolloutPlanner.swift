import TernCore

/// One step of a rolling update, decided from replica counts alone (pure).
///
/// Follows the Kubernetes Deployment controller's rules: never more than `desired + maxSurge`
/// replicas in all, never fewer than `desired − maxUnavailable` ready ones; replicas of the old
/// revision that are not ready can always go, since they serve nothing.
public enum RolloutPlanner {
    /// Replica counts of one API during an update.
    public struct Counts: Sendable, Equatable {
        /// Replicas wanted for the new revision.
        public var desired: Int
        /// Replicas of older revisions, and how many of them are ready.
        public var oldTotal: Int, oldReady: Int
        /// Replicas of the new revision, and how many of them are ready.
        public var newTotal: Int, newReady: Int

        /// Memberwise initialiser.
        public init(desired: Int, oldTotal: Int, oldReady: Int, newTotal: Int, newReady: Int) {
            self.desired = desired
            self.oldTotal = oldTotal
            self.oldReady = oldReady
            self.newTotal = newTotal
            self.newReady = newReady
        }
    }

    /// What to do now.
    public struct Step: Sendable, Equatable {
        /// New-revision replicas to start.
        public var startNew: Int
        /// Old-revision replicas to drain and stop (those not ready first).
        public var stopOld: Int
        /// Memberwise initialiser.
        public init(startNew: Int, stopOld: Int) {
            self.startNew = startNew
            self.stopOld = stopOld
        }
    }

    /// The next step for `counts` with the resolved `maxSurge` and `maxUnavailable`.
    public static func step(_ counts: Counts, maxSurge: Int, maxUnavailable: Int) -> Step {
        // Saturating: `maxSurge` and `maxUnavailable` come from a spec and may be huge.
        let maxTotal = counts.desired.addingSaturating(maxSurge)
        let startNew = max(0, min(counts.desired - counts.newTotal, maxTotal - counts.oldTotal - counts.newTotal))
        let minAvailable = max(0, counts.desired.addingSaturating(-max(0, maxUnavailable)))
        let removableReady = max(0, counts.oldReady + counts.newReady - minAvailable)
        let notReadyOld = counts.oldTotal - counts.oldReady
        // Old replicas are only needed while the new revision is short of `desired`.
        let stopOld = min(counts.oldTotal, notReadyOld + min(counts.oldReady, removableReady))
        return Step(startNew: startNew, stopOld: stopOld)
    }
}
