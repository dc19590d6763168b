import Foundation
import HTTPTypes
import TernCore

/// The endpoint of a BatchAPI or TaskAPI on the gateway, as Cortex 0.25 served it
/// (docs/workloads/batch/jobs.md there):
///
/// - `POST <endpoint>` with a job spec: submits a job; answers the job document (`job_id`, …).
/// - `GET <endpoint>?jobID=ID`: `{"job_status": <job document>, "endpoint": "<endpoint>"}`.
/// - `DELETE <endpoint>?jobID=ID`: stops the job; `{"message": "stopped job ID"}`.
/// - `GET <endpoint>` (no `jobID`): `{"api": NAME, "jobs": [<job document>…]}`, newest first.
///
/// Errors are Tern's JSON error document with the status ``ControlPlaneError`` gives (422
/// invalid job spec, 404 unknown job, 405 other methods). The routes need no control-plane
/// token, like every endpoint on the gateway.
extension JobService: QueueEndpoint {
    public nonisolated func handle(_ request: QueueRequest) async -> QueueAnswer {
        do {
            guard request.subpath.isEmpty else {
                throw ControlPlaneError(
                    status: .notFound, kind: .notFound,
                    message: "no route \(request.endpoint)/\(request.subpath); a job API takes POST \(request.endpoint), GET and DELETE \(request.endpoint)?jobID=ID",
                    api: request.api)
            }
            let jobID = request.query["jobID"] ?? request.query["jobId"] ?? request.query["job_id"]
            switch (request.method, jobID) {
            case ("POST", _):
                return try Self.answer(try await submit(api: request.api, body: request.body))
            case ("GET", let id?):
                let job = try await job(api: request.api, id: id)
                return try Self.answer(Status(jobStatus: job, endpoint: request.endpoint))
            case ("GET", nil):
                return try Self.answer(Listing(api: request.api, jobs: try await jobs(api: request.api)))
            case ("DELETE", let id?):
                let job = try await stop(api: request.api, id: id)
                return try Self.answer(["message": "stopped job \(job.jobID)"])
            case ("DELETE", nil):
                throw ControlPlaneError(
                    status: .badRequest, kind: .badRequest, message: "DELETE needs the job to stop: DELETE <endpoint>?jobID=ID", api: request.api)
            default:
                return QueueAnswer(
                    ControlPlaneError(
                        status: .methodNotAllowed, kind: .methodNotAllowed,
                        message: "use POST to submit a job, GET ?jobID=ID for its status or DELETE ?jobID=ID to stop it", api: request.api))
            }
        } catch let error as ControlPlaneError {
            return QueueAnswer(error)
        } catch {
            return QueueAnswer(ControlPlaneError.unexpected(error, api: request.api))
        }
    }

    private struct Status: Encodable {
        var jobStatus: JobDocument
        var endpoint: String
        enum CodingKeys: String, CodingKey {
            case jobStatus = "job_status"
            case endpoint
        }
    }

    private struct Listing: Encodable {
        var api: String
        var jobs: [JobDocument]
    }

    private static func answer(_ value: some Encodable) throws -> QueueAnswer {
        QueueAnswer(status: 200, body: [UInt8](try WireJSON.encoder().encode(value)))
    }
}
