import TernCore

/// Where a revision's Python dependencies are (`requirements.txt`), and what that means for the
/// API's status (pure).
///
/// Replicas of a revision start only once its phase is ``notNeeded`` or ``ready(python:)``;
/// while ``installing(since:)`` or after ``failed(_:)``, replicas of an older revision keep
/// serving.
enum DependencyPhase: Sendable, Equatable {
    /// No `requirements.txt`: replicas run the configured Python.
    case notNeeded
    /// pip (or the cache look-up) is running since this instant.
    case installing(since: ContinuousClock.Instant)
    /// Installed (or found in the cache): replicas run this interpreter.
    case ready(python: String)
    /// The install failed for this reason (pip's error lines).
    case failed(String)

    /// Name of the requirements file, relative to the project folder.
    static let requirementsFile = "requirements.txt"

    /// Whether replicas of the revision may start.
    var allowsReplicas: Bool {
        switch self {
        case .notNeeded, .ready: true
        case .installing, .failed: false
        }
    }

    /// The interpreter replicas run: the environment's, else `configured`.
    func python(configured: String) -> String {
        if case .ready(let python) = self { return python }
        return configured
    }

    /// `status` (derived from the replicas by ``StatusDeriver``) with this phase applied:
    /// `updating` in phase ``APIPhase/installingDependencies`` with the message
    /// `installing dependencies (requirements.txt, 12 s)` while installing,
    /// `error` naming pip's reason after a failure. Either way the message says when replicas
    /// of an older revision keep serving. `revision` is the revision being installed.
    func applied(
        to status: BackendAPIStatus, api: String, revision: Int, now: ContinuousClock.Instant
    ) -> BackendAPIStatus {
        var result = status
        let older = status.replicas.filter { $0.revision != revision && $0.state == .ready }
        let olderRevisions = Set(older.map(\.revision)).sorted().map(String.init).joined(separator: ", ")
        let serving = older.isEmpty ? "" : "; \(older.count) replica(s) of revision \(olderRevisions) keep serving"
        switch self {
        case .notNeeded, .ready:
            return status
        case .installing(let since):
            let seconds = Int((now - since).components.seconds)
            result.status = .updating
            result.phase = .installingDependencies
            result.message = "\(Self.installingPrefix) (\(Self.requirementsFile), \(seconds) s)\(serving)"
        case .failed(let reason):
            result.status = .error
            result.message =
                "revision \(revision): installing \(Self.requirementsFile) failed: \(reason); run `tern logs \(api)` for pip's output"
                + (older.isEmpty ? "" : "; the update is held\(serving)")
        }
        return result
    }

    /// How the status message of an installing API starts.
    static let installingPrefix = "installing dependencies"
}
