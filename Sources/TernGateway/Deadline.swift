import Synchronization

/// Thrown by ``value(of:timeout:)`` when the deadline passes first.
struct DeadlineExceeded: Error {}

/// The task's value, or ``DeadlineExceeded`` once `timeout` passed; the task keeps running
/// either way (a prediction cannot be taken back from a replica). Used for `request_timeout`,
/// batches and health probes.
func value<Value: Sendable>(of task: Task<Value, any Error>, timeout: Duration) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let outcome = OneShot(continuation)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            outcome.resume(with: .failure(DeadlineExceeded()))
        }
        Task {
            let result = await task.result
            timer.cancel()
            outcome.resume(with: result)
        }
    }
}

/// A continuation that is resumed at most once, by whichever of several racers comes first.
final class OneShot<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, any Error>?>

    init(_ continuation: CheckedContinuation<Value, any Error>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `result` unless already resumed.
    func resume(with result: Result<Value, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
