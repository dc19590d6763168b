/// Derives an API's status from its replicas (pure).
///
/// A revision with no ready replica is never `live` (cortex#1680, kserve#1859: status must come
/// from readiness, not from "the process runs"); a crash loop of the new revision shows as an
/// error with the last line the replica printed, while older replicas keep serving.
///
/// Resources (cortex#1233): a replica killed for going over `compute.mem_limit` before it became ready
/// makes the API `error (out of memory)` at once; one killed while serving is a restart, noted in
/// the message, until it repeats as a crash loop. A replica waiting for compute makes the API
/// `compute unavailable`, with what it needs and what is free.
///
/// Start-up budget (C31): a replica killed for still loading past the start-up budget
/// (`HealthCheckPolicy.startupTimeout` locally) is an init failure like exit code 3: `error (init failed)`
/// at once, the message saying `init timed out after N s`.
///
/// Models (C29): a failed model reload that a ready replica reports (``ReplicaSnapshot/modelProblems``) is added
/// to the message of a `live` or `updating` API (the API serves the previous version); it goes
/// once a later load of that version succeeds.
public enum StatusDeriver {
    /// Consecutive crashes (other than init failures) after which the API shows `error`.
    public static let crashLoopThreshold = 3

    /// The status of `api` from its replicas.
    /// - Parameters:
    ///   - requested: replicas of the current revision wanted now.
    ///   - current: the replicas of the current revision.
    ///   - previous: replicas of older revisions still running (a rolling update).
    /// - Returns: status, message, ready count (of every revision) and every replica's document,
    ///   current ones first.
    public static func derive(
        api: String, requested: Int, current: [ReplicaSnapshot], previous: [ReplicaSnapshot]
    ) -> BackendAPIStatus {
        let documents = (current + previous).map(\.document)
        let readyCurrent = current.filter { $0.document.state == .ready }.count
        let ready = documents.filter { $0.state == .ready }.count
        let readyPrevious = ready - readyCurrent
        let olderRevisions = Set(previous.filter { $0.document.state == .ready }.map(\.document.revision)).sorted()
        let olderServing =
            readyPrevious > 0
            ? "; the update is held: \(readyPrevious) replica(s) of revision \(olderRevisions.map(String.init).joined(separator: ", ")) keep serving"
            : ""
        // An init failure is reported at once; other crashes once they repeat (a single crash of
        // a live replica is a restart in progress, shown as `updating`).
        let failing = current.filter {
            $0.document.state != .ready
                && ($0.failedToLoad ? $0.consecutiveFailures > 0 : $0.consecutiveFailures >= crashLoopThreshold)
        }
        var status: APIStatus
        var message: String?
        if requested == 0 && documents.isEmpty {
            status = .scaledToZero
        } else if readyCurrent >= requested && previous.isEmpty {
            status = .live
        } else if let failed = failing.first {
            if failed.lastExitOutOfMemory {
                status = .errorOutOfMemory
                message = "replica \(failed.document.id) \(failed.document.lastExit ?? "killed: out of memory")"
                    + (failed.lastRunWasReady ? " while serving" : " while loading the predictor")
                    + "; raise compute.mem_limit or use less memory; run `tern logs \(api)` for details"
            } else {
                status = failed.initFailed ? .errorInitFailed : .error
                let reason = failed.lastOutputLine.map { ": \($0)" } ?? ""
                let hint =
                    failed.lastExitInitTimedOut
                    ? "; if the predictor needs longer to load, raise `tern serve --startup-timeout-seconds`" : ""
                message = "revision \(failed.document.revision): replica \(failed.document.id) \(failed.document.lastExit ?? "failed")\(reason)\(hint); run `tern logs \(api)` for details"
            }
            message! += olderServing
        } else if let waiting = current.first(where: { $0.computeWait != nil }), let wait = waiting.computeWait {
            status = .computeUnavailable
            message = "replica \(waiting.document.id) is \(wait)"
            if !previous.isEmpty {
                message! += "; replicas of the older revision hold compute until new ones are ready"
                    + " (update_strategy.max_surge: 0 with max_unavailable ≥ 1 replaces them in place)"
            }
            message! += olderServing
        } else {
            status = .updating
        }
        // Out-of-memory restarts that did not (yet) make the API fail are noted.
        if message == nil, let restarted = current.first(where: { $0.outOfMemoryKills > 0 }) {
            message = "replica \(restarted.document.id) was killed for going over compute.mem_limit"
                + " (limit \(restarted.memoryLimit ?? "?")) \(restarted.outOfMemoryKills) time(s) and restarted"
        }
        // A replica over its memory request serves on, but the machine's memory is overbooked.
        if message == nil, let over = current.first(where: { $0.memoryOverRequest != nil }), let usage = over.memoryOverRequest {
            message = "replica \(over.document.id) \(usage): compute.mem is a reservation, not a limit; "
                + "raise it to what the replica uses, or set compute.mem_limit to enforce a limit"
        }
        // --- failed model reloads (C29, ModelProblems.swift in TernSupervisor) ---
        if status == .live || status == .updating {
            var seen: Set<String> = []
            let problems = (current + previous).flatMap(\.modelProblems).filter { seen.insert($0).inserted }
            if !problems.isEmpty {
                message = ([message].compactMap { $0 } + problems).joined(separator: "; ")
            }
        }
        // --- end failed model reloads ---
        return BackendAPIStatus(
            status: status, message: message, requestedReplicas: requested, readyReplicas: ready, replicas: documents)
    }
}
