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
    /// `predictor.server_side_batching`.
    static let batching = ["max_batch_size", "batch_interval"]
    /// `predictor.models` and `predictor.multi_model_reloading`.
    static let models = ["path", "paths", "dir", "cache_size", "disk_cache_size"]
    /// An entry of `predictor.models.paths`.
    static let modelPath = ["name", "path"]
    /// `networking`.
    static let networking = ["endpoint", "request_timeout"]
    /// `compute`.
    static let compute = ["cpu", "gpu", "mem"]
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

    /// Keys Cortex had in each section (by path; `""` is the API entry) that Tern does not
    /// use: still errors, but the message says so instead of "unknown key".
    static let cortexOnly: [String: Set<String>] = [
        "predictor": [
            "image", "tensorflow_serving_image", "log_level", "shm_size", "dependencies", "signature_key",
        ],
        "predictor.models": ["signature_key"],
        "predictor.multi_model_reloading": ["signature_key"],
        "networking": ["api_gateway"],
    ]

    /// Whether `key` in the section at `path` is a Cortex key Tern does not use.
    static func isCortexOnly(_ key: String, in path: String) -> Bool {
        cortexOnly[path]?.contains(key) ?? false
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
