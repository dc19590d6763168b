import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A named step of the deploy path, in the order a deploy passes them: where the test-only
/// crash hook (``DeployCrashHook``) can make `tern serve` kill itself. The one list of step names;
/// docs/reliability.md (State durability) gives what a crash at each one leaves.
public struct DeployStep: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The step's name, as `TERN_TEST_CRASH_AT` takes it (e.g. `stored`).
    public var rawValue: String

    /// A step by name; nil when no step has that name (see ``allCases``).
    public init?(rawValue: String) {
        guard Self.allCases.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    private init(_ name: String) { rawValue = name }

    /// The upload was read by the control-plane server; nothing is written yet.
    public static let received = DeployStep("received")
    /// The first file of the bundle was written into its staging folder (`bundles/<digest>.tmp-…`),
    /// before the rest and before the folder is renamed into place.
    public static let extracting = DeployStep("extracting")
    /// The bundle folder was renamed into place (`bundles/<digest>`); the config is not read yet.
    public static let extracted = DeployStep("extracted")
    /// The config was loaded and every check passed; the store is not written yet.
    public static let validated = DeployStep("validated")
    /// The new revisions were committed to the store; the gateway and the backend do not know them yet.
    public static let stored = DeployStep("stored")
    /// The backend's `apply` returned for an API (its new replicas are starting); the deploy is not answered yet.
    public static let applied = DeployStep("applied")
    /// The virtual environment of the new revision's `requirements.txt` was created; pip has not run.
    public static let venvCreated = DeployStep("venv-created")
    /// pip finished; the environment is not published yet (its `venvs/<key>` link is not there).
    public static let pipInstalled = DeployStep("pip-installed")
    /// A replica of the new revision is ready and an old one is about to be stopped (mid rolling update).
    public static let rolling = DeployStep("rolling")
    /// The last replica of the old revision was stopped: the rolling update is complete.
    public static let rolledOut = DeployStep("rolled-out")

    /// Every step, in deploy order.
    public static let allCases: [DeployStep] = [
        received, extracting, extracted, validated, stored, applied, venvCreated, pipInstalled, rolling, rolledOut,
    ]

    /// ``rawValue``.
    public var description: String { rawValue }
}

/// Test-only: `TERN_TEST_CRASH_AT=<step>` in the environment of `tern serve` makes the process
/// send itself `SIGKILL` (as `kill -9` would; exit status 137 in a shell) the first time a deploy
/// reaches that ``DeployStep``. Ignored unless set; `tern serve` refuses to start when it names no
/// step. Only work started by a deploy request fires it (``inDeploy`` is a task-local value that
/// `ControlPlane.deploy` sets, inherited by the tasks it starts: dependency installs and rolling
/// updates), so restoring APIs at start never does.
public enum DeployCrashHook {
    /// The environment variable: `TERN_TEST_CRASH_AT`.
    public static let variable = "TERN_TEST_CRASH_AT"

    /// The armed step, read once from the process environment; nil when the variable is unset.
    public static let target: String? = ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }

    /// True inside a deploy request and the tasks it starts.
    @TaskLocal public static var inDeploy = false

    /// Checks ``target``: nil when unset or naming a step, else a message listing the steps.
    public static func validationError() -> String? {
        guard let target, DeployStep(rawValue: target) == nil else { return nil }
        return "\(variable)=\(target) names no deploy step; use one of: "
            + DeployStep.allCases.map(\.rawValue).joined(separator: ", ") + " (a test-only hook; unset it otherwise)"
    }

    /// Kills this process with `SIGKILL` when `step` is the armed one and `armed` (by default
    /// ``inDeploy``; pass the value read before leaving the task, e.g. on a thread-pool thread).
    /// Writes one line to stderr first, so the test's log says where the server died.
    public static func reach(_ step: DeployStep, armed: Bool = inDeploy) {
        guard let target, armed, target == step.rawValue else { return }
        let line = "tern serve: \(variable)=\(target) reached: killing this process with SIGKILL\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        kill(getpid(), SIGKILL)
        _exit(137)  // not reached: SIGKILL to oneself is delivered before kill returns
    }
}
