/// `predictor`: the Python code of an API and how it runs in a replica.
public struct PredictorSpec: Sendable, Equatable, Codable {
    /// `type`: which predictor class the file defines.
    public var type: PredictorType
    /// `path`: the Python file with the predictor class, relative to the project directory
    /// (no `..`, ends in `.py`). Required.
    public var path: String
    /// `config`: passed to the predictor's `__init__`. Default: `{}`.
    public var config: JSONValue
    /// `python_path`: a project directory put on `sys.path`, relative; nil when not given.
    public var pythonPath: String?
    /// `env`: environment variables of the replica's processes. Default: none.
    public var env: [String: String]
    /// `processes_per_replica`: worker processes per replica, 1…64. Default: 1.
    public var processesPerReplica: Int
    /// `threads_per_process`: concurrent requests per worker process, 1…1024. Default: 1.
    public var threadsPerProcess: Int
    /// `server_side_batching`: group requests into batches; nil (the default) means off.
    public var serverSideBatching: BatchingSpec?
    /// `models` (or Cortex's `multi_model_reloading`): models the predictor loads; nil when not given.
    public var models: ModelsSpec?

    /// Creates predictor settings with Cortex's defaults.
    public init(
        type: PredictorType,
        path: String,
        config: JSONValue = .emptyObject,
        pythonPath: String? = nil,
        env: [String: String] = [:],
        processesPerReplica: Int = 1,
        threadsPerProcess: Int = 1,
        serverSideBatching: BatchingSpec? = nil,
        models: ModelsSpec? = nil
    ) {
        self.type = type
        self.path = path
        self.config = config
        self.pythonPath = pythonPath
        self.env = env
        self.processesPerReplica = processesPerReplica
        self.threadsPerProcess = threadsPerProcess
        self.serverSideBatching = serverSideBatching
        self.models = models
    }

    /// Concurrency slots of one replica: `processes_per_replica × threads_per_process`.
    public var slotsPerReplica: Int { processesPerReplica * threadsPerProcess }
}

/// `predictor.type`.
public enum PredictorType: String, Sendable, Equatable, Codable, CaseIterable {
    /// A `PythonPredictor` class.
    case python
    /// An `ONNXPredictor` class, given an ONNX runtime client; needs `models`.
    case onnx
}

/// `predictor.server_side_batching`: the gateway groups requests into one `predict` call.
public struct BatchingSpec: Sendable, Equatable, Codable {
    /// `max_batch_size`: most requests in one batch; at least 1 and at most
    /// `autoscaling.max_replica_concurrency`.
    public var maxBatchSize: Int
    /// `batch_interval` in ms: the longest wait of a batch's first request; more than 0.
    public var batchIntervalMs: Int64
    /// `batch_wait`: when a batch that is not full is sent. Default: ``BatchWait/adaptive``.
    public var batchWait: BatchWait

    /// Creates batching settings.
    public init(maxBatchSize: Int, batchIntervalMs: Int64, batchWait: BatchWait = .adaptive) {
        self.maxBatchSize = maxBatchSize
        self.batchIntervalMs = batchIntervalMs
        self.batchWait = batchWait
    }

    private enum CodingKeys: String, CodingKey {
        case maxBatchSize, batchIntervalMs, batchWait
    }

    /// Decodes the settings; `batchWait` is absent from specs stored before it existed, which
    /// get the default (``BatchWait/adaptive``), as their YAML would now.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxBatchSize = try container.decode(Int.self, forKey: .maxBatchSize)
        batchIntervalMs = try container.decode(Int64.self, forKey: .batchIntervalMs)
        batchWait = try container.decodeIfPresent(BatchWait.self, forKey: .batchWait) ?? .adaptive
    }
}

/// `predictor.server_side_batching.batch_wait`: when the gateway sends a batch that is not full
/// (a full one is always sent at once). See docs/batching.md.
public enum BatchWait: String, Sendable, Equatable, Codable, CaseIterable {
    /// A request that finds a replica slot free and no batch open is sent at once, as a batch of
    /// one; otherwise the open batch is sent as soon as a slot frees, or `batch_interval` after
    /// its first request at the latest. The default.
    case adaptive
    /// A batch is sent only when it is full or `batch_interval` after its first request (Cortex
    /// 0.25's fixed wait): a lone request always waits the interval.
    case fullInterval = "full_interval"
}

/// `predictor.models`: the models a predictor loads, and how many it keeps loaded.
public struct ModelsSpec: Sendable, Equatable, Codable {
    /// Where the models are: exactly one of `path`, `paths` or `dir`.
    public var source: ModelSource
    /// `cache_size`: models kept in memory; nil (the default) loads every model.
    /// Given together with ``diskCacheSize``, at most it.
    public var cacheSize: Int?
    /// `disk_cache_size`: models kept on disk; nil (the default) keeps every model.
    public var diskCacheSize: Int?

    /// Creates model settings.
    public init(source: ModelSource, cacheSize: Int? = nil, diskCacheSize: Int? = nil) {
        self.source = source
        self.cacheSize = cacheSize
        self.diskCacheSize = diskCacheSize
    }
}

/// Where a predictor's models are. A model path is relative to the project directory (no `..`)
/// or a URL (`file:///absolute/path`, watched for live reloading; `s3://`, `gs://`, `http://`,
/// `https://` are accepted but not served by the runtime yet). See docs/models.md.
///
/// Codable as in YAML: `{"path": "…"}`, `{"paths": [{"name": "…", "path": "…"}]}` or `{"dir": "…"}`.
public enum ModelSource: Sendable, Equatable, Codable {
    /// `path`: a single model.
    case path(String)
    /// `paths`: named models.
    case paths([ModelPath])
    /// `dir`: a directory with one model per sub-directory, named after it.
    case dir(String)

    private enum CodingKeys: String, CodingKey {
        case path, paths, dir
    }

    /// Decodes the one key that is present.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let path = try container.decodeIfPresent(String.self, forKey: .path) {
            self = .path(path)
        } else if let paths = try container.decodeIfPresent([ModelPath].self, forKey: .paths) {
            self = .paths(paths)
        } else {
            self = .dir(try container.decode(String.self, forKey: .dir))
        }
    }

    /// Encodes one key: `path`, `paths` or `dir`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .path(let path): try container.encode(path, forKey: .path)
        case .paths(let paths): try container.encode(paths, forKey: .paths)
        case .dir(let dir): try container.encode(dir, forKey: .dir)
        }
    }
}

/// One entry of `predictor.models.paths`.
public struct ModelPath: Sendable, Equatable, Codable {
    /// `name`: unique among the paths; letters, digits, `-`, `_` and `.`.
    public var name: String
    /// `path`: where the model is.
    public var path: String

    /// Creates a named model path.
    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// Whether the model is in the project (not a URL).
    public var isLocal: Bool { !path.contains("://") }
}
