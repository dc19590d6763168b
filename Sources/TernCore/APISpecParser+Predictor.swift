import Yams

/// `predictor`, with its batching and models sections.
extension APISpecParser {
    /// URL schemes a model path may use instead of a project path. `file` must name an absolute
    /// path (`file:///srv/models/iris`); the runtime serves `file` and reports the others as not
    /// supported yet when the replica starts (docs/models.md).
    static let modelURLSchemes = ["file", "s3", "gs", "http", "https"]

    mutating func parsePredictor(_ entry: YAMLMapping) -> PredictorSpec? {
        guard let section = reader.section(
            "predictor", in: entry, allowed: ConfigKeys.predictor, legacy: ConfigKeys.predictorLegacy) else { return nil }
        let type: PredictorType? = reader.choice("type", in: section, what: "a predictor type")
        if !section.has("type") {
            reader.reportMissing(
                "type", in: section, what: PredictorType.allCases.map(\.rawValue).joined(separator: " or "))
        }
        let path = readProjectPath("path", in: section, pythonFile: true)
        if !section.has("path") {
            reader.reportMissing(
                "path", in: section, what: "the Python file that defines the predictor, e.g. predictor.py")
        }
        var config = JSONValue.emptyObject
        if let node = section.value("config") {
            if case .mapping = node {
                config = reader.json(node, path: section.path("config")) ?? config
            } else {
                reader.report(
                    "expected a mapping, got \(YAMLReader.describe(node))", at: section.path("config"),
                    line: section.valueLine("config"))
            }
        }
        let pythonPath = readProjectPath("python_path", in: section, pythonFile: false)
        let env = parseEnv(section)
        let processes = reader.read("processes_per_replica", in: section, .between(1, 64)) ?? 1
        let threads = reader.read("threads_per_process", in: section, .between(1, 1024)) ?? 1
        let batching = parseBatching(section)
        let models = parseModels(section, processes: processes)
        if type == .onnx, !["models", "multi_model_reloading", "model_path"].contains(where: section.has) {
            reader.reportMissing(
                "models", in: section, what: "an onnx predictor needs its .onnx model, e.g. models: {path: model.onnx}")
        }
        guard let type, let path else { return nil }
        return PredictorSpec(
            type: type, path: path, config: config, pythonPath: pythonPath, env: env, processesPerReplica: processes,
            threadsPerProcess: threads, serverSideBatching: batching, models: models)
    }

    /// A path inside the project under `key`; a Python file when `pythonFile`.
    private mutating func readProjectPath(_ key: String, in section: YAMLMapping, pythonFile: Bool) -> String? {
        guard let path: String = reader.read(key, in: section) else { return nil }
        var problem = Self.projectPathProblem(path)
        if problem == nil, pythonFile, !path.hasSuffix(".py") {
            problem = "\"\(path)\" must be a Python file ending in .py"
        }
        guard let problem else { return path }
        reader.report(problem, at: section.path(key), line: section.valueLine(key))
        return nil
    }

    // MARK: env

    private mutating func parseEnv(_ predictor: YAMLMapping) -> [String: String] {
        guard let node = predictor.value("env"),
            let env = reader.mapping(node, path: predictor.path("env"), line: predictor.line("env"))
        else { return [:] }
        var result: [String: String] = [:]
        for entry in env.entries {
            let name = entry.key
            let isValid =
                !name.isEmpty && name.first.map { !$0.isNumber } == true
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            if !isValid {
                reader.report(
                    "\"\(name)\" is not a valid environment variable name (letters, digits and \"_\", "
                        + "not starting with a digit)",
                    at: env.path(name), line: entry.keyLine)
            } else if name.hasPrefix("TERN_") {
                reader.report(
                    "names starting with TERN_ are reserved for Tern", at: env.path(name), line: entry.keyLine)
            }
            guard case .scalar(let scalar) = entry.value, scalar.tagName != .null else {
                reader.report(
                    "expected a string, got \(YAMLReader.describe(entry.value))", at: env.path(name),
                    line: env.valueLine(name))
                continue
            }
            result[name] = scalar.string
        }
        return result
    }

    // MARK: server_side_batching

    private mutating func parseBatching(_ predictor: YAMLMapping) -> BatchingSpec? {
        if predictor.has("server_side_batching") {
            batchingSection = (predictor.path("server_side_batching"), predictor.line("server_side_batching"))
        }
        guard let section = reader.section("server_side_batching", in: predictor, allowed: ConfigKeys.batching) else {
            return nil
        }
        let size: Int? = reader.read(
            "max_batch_size", in: section, .between(1, AutoscalingSpec.maxReplicaConcurrencyLimit))
        maxBatchSizeLine = section.valueLine("max_batch_size")
        maxBatchSize = size
        let interval = readDuration("batch_interval", in: section, .greaterThan(0, atMost: 3_600_000))
        let wait: BatchWait? = reader.choice("batch_wait", in: section, what: "a batch wait")
        if !section.has("max_batch_size") {
            reader.reportMissing("max_batch_size", in: section, what: "the most requests in one batch, e.g. 8")
        }
        if !section.has("batch_interval") {
            reader.reportMissing("batch_interval", in: section, what: "how long a batch may wait to fill, e.g. 100ms")
        }
        guard let size, let interval else { return nil }
        return BatchingSpec(maxBatchSize: size, batchIntervalMs: interval, batchWait: wait ?? .adaptive)
    }

    // MARK: models

    private mutating func parseModels(_ predictor: YAMLMapping, processes: Int) -> ModelsSpec? {
        let keys = ["models", "multi_model_reloading"].filter { predictor.has($0) }
        if keys.count == 2 {
            reader.report(
                "cannot be combined with predictor.models: both are the same setting (multi_model_reloading is "
                    + "Cortex's older name); keep one",
                at: predictor.path(keys[1]), line: predictor.line(keys[1]))
        }
        if predictor.has("model_path") {
            // Cortex 0.20's one-model form: the same as models: {path: ...}.
            if let other = keys.first {
                reader.report(
                    "cannot be combined with predictor.\(other): model_path is Cortex 0.20's one-model form of "
                        + "models.path; keep one",
                    at: predictor.path("model_path"), line: predictor.line("model_path"))
                return nil
            }
            return readModelLocation("model_path", in: predictor).map { ModelsSpec(source: .path($0)) }
        }
        guard let key = keys.first, let section = reader.section(key, in: predictor, allowed: ConfigKeys.models) else {
            return nil
        }
        let sourceKeys = ["path", "paths", "dir"].filter { section.has($0) }
        if sourceKeys.isEmpty {
            reader.report("give one of path, paths or dir", at: section.path, line: section.line)
        } else if sourceKeys.count > 1 {
            reader.report(
                "cannot be combined with \(section.path(sourceKeys[0])); give exactly one of path, paths or dir",
                at: section.path(sourceKeys[1]), line: section.line(sourceKeys[1]))
        }
        var source: ModelSource?
        switch sourceKeys.first {
        case "path": source = readModelLocation("path", in: section).map(ModelSource.path)
        case "dir": source = readModelLocation("dir", in: section).map(ModelSource.dir)
        case "paths": source = parseModelPaths(section).map(ModelSource.paths)
        default: break
        }
        let cacheSize: Int? = reader.read("cache_size", in: section, .between(1, 100_000))
        let diskCacheSize: Int? = reader.read("disk_cache_size", in: section, .between(1, 100_000))
        checkCache(section, source: source, sourceKey: sourceKeys.first, cacheSize, diskCacheSize, processes: processes)
        return source.map { ModelsSpec(source: $0, cacheSize: cacheSize, diskCacheSize: diskCacheSize) }
    }

    /// The caching rules: both sizes or neither; memory ≤ disk; one process per replica; room on
    /// disk for every model of the project. The sizes count model versions.
    private mutating func checkCache(
        _ section: YAMLMapping, source: ModelSource?, sourceKey: String?, _ cacheSize: Int?, _ diskCacheSize: Int?,
        processes: Int
    ) {
        let cachePath = section.path("cache_size")
        let diskPath = section.path("disk_cache_size")
        guard !reader.hasIssue(at: cachePath), !reader.hasIssue(at: diskPath) else { return }
        switch (cacheSize, diskCacheSize) {
        case (nil, nil): return
        case (_?, nil), (nil, _?):
            let given = cacheSize != nil ? "cache_size" : "disk_cache_size"
            reader.report(
                "\(cachePath) and \(diskPath) go together: give both or neither", at: section.path(given),
                line: section.line(given))
            return
        case let (cache?, disk?):
            if cache > disk {
                reader.report(
                    "\(cache) must not exceed \(diskPath) (\(disk))", at: cachePath,
                    line: section.valueLine("cache_size"))
            }
            if processes > 1 {
                reader.report(
                    "model caching needs predictor.processes_per_replica to be 1 (got \(processes))", at: cachePath,
                    line: section.valueLine("cache_size"))
            }
            let models: [ModelPath]
            switch source {
            case .path(let path)?: models = [ModelPath(name: "", path: path)]
            case .paths(let paths)?: models = paths
            default: return
            }
            let sourcePath = section.path(sourceKey ?? "paths")
            // No upper bound from the number of models: the sizes count versions (a model is a
            // name and a version, as in Cortex), which only the model folders show.
            let local = models.filter(\.isLocal).count
            if disk < local {
                reader.report(
                    "\(disk) is less than the number of local models in \(sourcePath) (\(local)); local models "
                        + "always stay on disk, so it must be at least \(local)",
                    at: diskPath, line: section.valueLine("disk_cache_size"))
            }
        }
    }

    private mutating func parseModelPaths(_ section: YAMLMapping) -> [ModelPath]? {
        guard let items = reader.sequence("paths", in: section) else { return nil }
        if items.isEmpty {
            reader.report("must list at least one model", at: section.path("paths"), line: section.line("paths"))
        }
        var models: [ModelPath] = []
        var firstIndex: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let path = "\(section.path("paths"))[\(index)]"
            guard let entry = reader.mapping(item, path: path, line: item.mark?.line) else { continue }
            reader.checkKeys(entry, allowed: ConfigKeys.modelPath)
            let name: String? = reader.read("name", in: entry)
            if let name {
                let isValid =
                    !name.isEmpty
                    && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
                if !isValid {
                    reader.report(
                        "\"\(name)\" is not a valid model name (letters, digits, \"-\", \"_\" and \".\")",
                        at: entry.path("name"), line: entry.valueLine("name"))
                } else if let first = firstIndex[name] {
                    reader.report(
                        "\"\(name)\" is already the name of \(section.path("paths"))[\(first)]; "
                            + "model names must be unique",
                        at: entry.path("name"), line: entry.valueLine("name"))
                } else {
                    firstIndex[name] = index
                }
            } else if !entry.has("name") {
                reader.reportMissing("name", in: entry, what: "the model's name, e.g. iris")
            }
            let location = readModelLocation("path", in: entry)
            if !entry.has("path") {
                reader.reportMissing("path", in: entry, what: "where the model is, e.g. models/iris")
            }
            if let name, let location { models.append(ModelPath(name: name, path: location)) }
        }
        return models.count == items.count ? models : nil
    }

    /// A model path: inside the project, or a URL with one of ``modelURLSchemes``.
    private mutating func readModelLocation(_ key: String, in section: YAMLMapping) -> String? {
        guard let path: String = reader.read(key, in: section) else { return nil }
        let problem: String?
        if let schemeEnd = path.firstRange(of: "://") {
            let scheme = String(path[..<schemeEnd.lowerBound])
            let rest = path[schemeEnd.upperBound...]
            if !Self.modelURLSchemes.contains(scheme) {
                problem =
                    "\"\(path)\" has an unsupported URL scheme (allowed: "
                    + "\(Self.modelURLSchemes.joined(separator: ", ")), or a path in the project)"
            } else if scheme == "file", !rest.hasPrefix("/") {
                problem = "\"\(path)\" must name an absolute path after file://, e.g. file:///srv/models/iris"
            } else {
                problem = nil
            }
        } else {
            problem = Self.projectPathProblem(path)
        }
        guard let problem else { return path }
        reader.report(problem, at: section.path(key), line: section.valueLine(key))
        return nil
    }
}
