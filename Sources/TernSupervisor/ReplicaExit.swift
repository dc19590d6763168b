#if canImport(Glibc)
import Glibc
#endif

/// How one run of a replica ended, in the words its status and log use (pure: the runner passes
/// in what it observed, so every case is tested without a process).
///
/// Precedence: an out-of-memory kill names the exit whatever else happened; then a kill the
/// runner made itself (start-up budget, liveness) names it, if the run was indeed killed; else
/// the exit code or signal does.
struct ReplicaExit: Sendable, Equatable {
    /// How the replica's main process ended.
    enum Termination: Sendable, Equatable {
        /// It exited with this code.
        case exited(Int32)
        /// A signal ended it.
        case signaled(Int32)
    }

    /// The last exit as `tern get` shows it: `exited with code 3 (the predictor failed to load)`,
    /// `exited with code 1`, `killed by signal 9`, `init timed out after 300 s`,
    /// `not answering health checks`, `killed: out of memory (limit 256Mi)`.
    var description: String
    /// The exit code, when the process exited by itself (nil when signalled, or when a kill
    /// reason or the memory limit names the exit).
    var exitCode: Int32?
    /// The runner killed it for still loading past the start-up budget (an init failure).
    var initTimedOut: Bool
    /// It was killed for going over `compute.mem_limit`.
    var outOfMemory: Bool

    /// Whether the run was killed with `SIGKILL`: signalled directly, or exit code 128 + 9 (the
    /// runtime's main process reporting the kernel's OOM kill of a forked worker).
    static func wasKilled(_ termination: Termination) -> Bool {
        switch termination {
        case .signaled(let signal): signal == SIGKILL
        case .exited(let code): code == 128 + SIGKILL
        }
    }
}

extension ReplicaExit {
    /// The exit of a run that ended with `termination`.
    /// - Parameters:
    ///   - killReason: why the runner killed this run itself, if it did (`text` becomes the
    ///     description; `initTimedOut` for the start-up budget); ignored unless the run was killed.
    ///   - outOfMemory: the memory limiter found the run over `compute.mem_limit`.
    ///   - memoryLimit: `compute.mem_limit` as written (`256Mi`), for the description.
    init(
        _ termination: Termination, killReason: (text: String, initTimedOut: Bool)?, outOfMemory: Bool,
        memoryLimit: String?
    ) {
        switch termination {
        case .exited(let code):
            exitCode = code
            description = code == 3 ? "exited with code 3 (the predictor failed to load)" : "exited with code \(code)"
        case .signaled(let signal):
            exitCode = nil
            description = "killed by signal \(signal)"
        }
        initTimedOut = false
        if let killReason, Self.wasKilled(termination) {
            exitCode = nil
            description = killReason.text
            initTimedOut = killReason.initTimedOut
        }
        self.outOfMemory = outOfMemory
        if outOfMemory {
            exitCode = nil
            initTimedOut = false
            description = "killed: out of memory (limit \(memoryLimit ?? "?"))"
        }
    }
}
