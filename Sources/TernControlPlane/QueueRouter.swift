import TernCore

/// The gateway's ``QueueEndpoint``: requests to an AsyncAPI's endpoint go to the
/// ``AsyncQueueService``, those to a BatchAPI's or TaskAPI's to the ``JobService``.
public struct QueueRouter: QueueEndpoint {
    let jobs: JobService
    let async: AsyncQueueService
    let kind: @Sendable (String) -> APIKind?

    /// A router; `kind` gives a deployed API's kind (nil when not deployed).
    public init(jobs: JobService, async: AsyncQueueService, kind: @escaping @Sendable (String) -> APIKind?) {
        self.jobs = jobs
        self.async = async
        self.kind = kind
    }

    public func handle(_ request: QueueRequest) async -> QueueAnswer {
        kind(request.api) == .asyncAPI ? await async.handle(request) : await jobs.handle(request)
    }
}
