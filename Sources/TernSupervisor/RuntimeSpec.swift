import Foundation
import TernCore

/// The spec file handed to `python -m tern_runtime --spec` (docs/replica-protocol.md).
struct RuntimeSpec: Encodable {
    struct Predictor: Encodable {
        var type: String
        var path: String
        var config: JSONValue
        var pythonPath: String?
        var processesPerReplica: Int
        var threadsPerProcess: Int
        var models: Models?
        /// `predictor.server_side_batching`, when set: the runtime then calls `predict` with lists
        /// for requests that do not come as `predict_batch` frames too (the Open Inference
        /// Protocol adapter).
        var serverSideBatching: Batching?

        enum CodingKeys: String, CodingKey {
            case type, path, config, models
            case pythonPath = "python_path"
            case processesPerReplica = "processes_per_replica"
            case threadsPerProcess = "threads_per_process"
            case serverSideBatching = "server_side_batching"
        }
    }
    /// `predictor.server_side_batching` as the runtime reads it:
    /// `{"max_batch_size": 8, "batch_interval_ms": 10}`.
    struct Batching: Encodable {
        var maxBatchSize: Int
        var batchIntervalMs: Int64

        init(_ spec: BatchingSpec) {
            maxBatchSize = spec.maxBatchSize
            batchIntervalMs = spec.batchIntervalMs
        }

        enum CodingKeys: String, CodingKey {
            case maxBatchSize = "max_batch_size"
            case batchIntervalMs = "batch_interval_ms"
        }
    }
    /// `predictor.models` as the runtime reads it: `{"path"|"paths"|"dir", "cache_size",
    /// "disk_cache_size"}` (snake_case; the sizes are left out when not set).
    struct Models: Encodable {
        var source: ModelSource
        var cacheSize: Int?
        var diskCacheSize: Int?

        init(_ spec: ModelsSpec) {
            source = spec.source
            cacheSize = spec.cacheSize
            diskCacheSize = spec.diskCacheSize
        }

        enum CodingKeys: String, CodingKey {
            case cacheSize = "cache_size"
            case diskCacheSize = "disk_cache_size"
        }

        func encode(to encoder: any Encoder) throws {
            try source.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(cacheSize, forKey: .cacheSize)
            try container.encodeIfPresent(diskCacheSize, forKey: .diskCacheSize)
        }
    }
    var apiName: String
    var projectDir: String
    var predictor: Predictor

    enum CodingKeys: String, CodingKey {
        case predictor
        case apiName = "api_name"
        case projectDir = "project_dir"
    }

    init(deployment: Deployment) {
        let predictor = deployment.spec.predictor
        apiName = deployment.spec.name
        projectDir = deployment.projectDirectory
        self.predictor = Predictor(
            type: predictor?.type.rawValue ?? "python", path: predictor?.path ?? "predictor.py",
            config: predictor?.config ?? .object([:]), pythonPath: predictor?.pythonPath,
            processesPerReplica: predictor?.processesPerReplica ?? 1,
            threadsPerProcess: predictor?.threadsPerProcess ?? 1, models: predictor?.models.map(Models.init),
            serverSideBatching: predictor?.serverSideBatching.map(Batching.init))
    }

    func encoded() throws -> Data {
        try JSONEncoder().encode(self)
    }
}
