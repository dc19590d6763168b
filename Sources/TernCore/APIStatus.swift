/// The status of an API as `tern get` shows it.
///
/// An open set modelled as a struct with static members (adding a status later is not
/// source-breaking). The raw value is the user-facing text, e.g. `"error (init failed)"`.
public struct APIStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The text shown to users and sent in JSON.
    public var rawValue: String
    /// Creates a status from its user-facing text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Every requested replica of the current revision is ready.
    public static let live = APIStatus(rawValue: "live")
    /// Replicas are starting or a rolling update is in progress.
    public static let updating = APIStatus(rawValue: "updating")
    /// Replicas crash for a reason other than the ones below.
    public static let error = APIStatus(rawValue: "error")
    /// The predictor failed to load (import error, `__init__` raised).
    public static let errorInitFailed = APIStatus(rawValue: "error (init failed)")
    /// A replica was killed for exceeding `compute.mem`.
    public static let errorOutOfMemory = APIStatus(rawValue: "error (out of memory)")
    /// Replicas cannot be placed: not enough CPU, memory or GPUs on this machine.
    public static let computeUnavailable = APIStatus(rawValue: "compute unavailable")
    /// `min_replicas: 0` and no traffic: no replica runs.
    public static let scaledToZero = APIStatus(rawValue: "scaled to zero")

    public var description: String { rawValue }

    /// Whether the status is an error: `error` or `error (<reason>)` (``error``,
    /// ``errorInitFailed``, ``errorOutOfMemory``, and any such status a newer server adds).
    /// `tern deploy` stops waiting on one; `tern get` shows it in red.
    public var isError: Bool {
        rawValue == Self.error.rawValue || rawValue.hasPrefix(Self.error.rawValue + " (")
    }
}

/// What an API's current revision is doing before its replicas can start, reported beside its
/// status (``APIDocument/phase``) so that clients need not read the message.
///
/// An open set (struct with static members); encoded as its bare string.
public struct APIPhase: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The wire form, e.g. `installing_dependencies`.
    public var rawValue: String
    /// A phase from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The wire form.
    public var description: String { rawValue }

    /// The revision's `requirements.txt` is being installed (status `updating`; the message says
    /// for how long). `tern deploy` does not count this time towards `--timeout`.
    public static let installingDependencies = APIPhase(rawValue: "installing_dependencies")
}

/// The lifecycle state of one replica.
public struct ReplicaState: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The text shown to users and sent in JSON.
    public var rawValue: String
    /// Creates a state from its text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The process runs; the predictor is loading.
    public static let starting = ReplicaState(rawValue: "starting")
    /// Health frames succeed; the gateway balances requests to it.
    public static let ready = ReplicaState(rawValue: "ready")
    /// Removed from balancing; finishing in-flight requests before it stops.
    public static let draining = ReplicaState(rawValue: "draining")
    /// Exited; waiting out its restart backoff.
    public static let backoff = ReplicaState(rawValue: "backoff")
    /// A worker (of a job or queue) that exited and is not started again: it finished, or it
    /// failed without restarts.
    public static let exited = ReplicaState(rawValue: "exited")

    public var description: String { rawValue }
}
