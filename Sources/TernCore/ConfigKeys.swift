/// The keys of `tern.yaml`, section by section: the one list that unknown-key checks and
/// did-you-mean suggestions use.
enum ConfigKeys {
    /// Keys of an API entry (every kind but TrafficSplitter).
    static let api = [
        "name", "kind", "predictor", "networking", "compute", "autoscaling", "update_strategy", "monitoring",
    ]
    /// Keys of a TrafficSplitter entry.
    static let trafficSplitter = ["name", "kind", "networking", "apis"]
    /// `predictor`.
    static let predictor = [
        "type", "path", "config", "python_path", "env", "processes_per_replica", "threads_per_process",
        "server_side_batching", "models", "multi_model_reloading",
    ]
    /// Older names accepted in `predictor` but not listed among its keys: `model_path`
    /// (Cortex 0.20's one-model form of `models.path`).
    static let predictorLegacy = ["model_path"]
    /// `predictor.server_side_batching`.
    static let batching = ["max_batch_size", "batch_interval", "batch_wait"]
    /// `predictor.models` and `predictor.multi_model_reloading`.
    static let models = ["path", "paths", "dir", "cache_size", "disk_cache_size"]
    /// An entry of `predictor.models.paths`.
    static let modelPath = ["name", "path"]
    /// `networking`.
    static let networking = ["endpoint", "request_timeout", "auth"]
    /// `compute`.
    static let compute = ["cpu", "gpu", "mem", "mem_limit"]
    /// `autoscaling`.
    static let autoscaling = [
        "min_replicas", "max_replicas", "init_replicas", "target_replica_concurrency", "max_replica_concurrency",
        "window", "downscale_stabilization_period", "upscale_stabilization_period", "max_downscale_factor",
        "max_upscale_factor", "downscale_tolerance", "upscale_tolerance",
    ]
    /// `update_strategy`.
    static let updateStrategy = ["max_surge", "max_unavailable"]
    /// `monitoring`.
    static let monitoring = ["model_type", "key"]
    /// An entry of a TrafficSplitter's `apis`.
    static let trafficTarget = ["name", "weight", "shadow"]

    /// Keys Cortex had in each section (by path; `""` is the API entry) that change nothing on
    /// Tern, each with why: a deploy accepts them and warns once per key. A Cortex key that
    /// would change behaviour silently if ignored is not listed here (it stays an error).
    static let cortexIgnoredKeys: [String: [String: String]] = [
        "predictor": [
            "image": "replicas run in a Python process, not a container image; list packages in requirements.txt "
                + "(installed at deploy) and choose the interpreter with `tern up --python`",
            "tensorflow_serving_image": "there is no TensorFlow Serving container; Tern serves python and onnx predictors",
            "log_level": "replicas' output is kept whole at every level; read it with `tern logs`",
            "shm_size": "replicas are processes on this machine and share its /dev/shm",
            "dependencies": "Tern installs the project's requirements.txt at deploy; conda and shell steps are not run",
            "signature_key": "it picks a TensorFlow signature; Tern serves python and onnx predictors",
        ],
        "predictor.models": ["signature_key": "it picks a TensorFlow signature; Tern serves python and onnx predictors"],
        "predictor.multi_model_reloading": [
            "signature_key": "it picks a TensorFlow signature; Tern serves python and onnx predictors"
        ],
        "networking": [
            "api_gateway": "there is no AWS API Gateway; Tern's gateway serves the endpoint on its own port",
            "local_port": "every API is served at its endpoint on the gateway's port (`tern up --port`)",
        ],
        "compute": ["inf": "there are no AWS Inferentia chips here; replicas run on CPU (and compute.gpu GPUs)"],
    ]

    /// Why `key` in the section at `path` has no effect, when it is a Cortex key Tern accepts and
    /// ignores; nil otherwise.
    static func cortexIgnored(_ key: String, in path: String) -> String? {
        cortexIgnoredKeys[path]?[key]
    }

    /// Sections whose keys are suggested when written in the wrong place.
    private static let sections: [(path: String, keys: [String])] = [
        ("", api + ["apis"]), ("predictor", predictor), ("predictor.server_side_batching", batching),
        ("predictor.models", models), ("networking", networking), ("compute", compute),
        ("autoscaling", autoscaling), ("update_strategy", updateStrategy), ("monitoring", monitoring),
    ]

    /// Keys too common to point anywhere in particular.
    private static let ambiguous: Set<String> = ["name", "path", "key", "type", "kind"]

    /// The full path of `key` when it belongs to exactly one section other than `section`
    /// (e.g. `cpu` written at the top level → `compute.cpu`).
    static func home(of key: String, notIn section: String) -> String? {
        guard !ambiguous.contains(key) else { return nil }
        let homes = sections.filter { $0.path != section && $0.keys.contains(key) }
        guard homes.count == 1, let home = homes.first else { return nil }
        return home.path.isEmpty ? key : "\(home.path).\(key)"
    }
}
