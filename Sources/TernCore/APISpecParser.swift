import Yams

/// One API entry of the file as read, with what the file-wide checks need even when the
/// entry has problems.
struct ParsedAPI {
    /// The spec, when the entry had no problem.
    var spec: APISpec?
    /// The entry's name, when it is a string (valid or not).
    var name: String?
    /// The entry's kind, when valid.
    var kind: APIKind?
    /// Line of `kind`'s value (or of the entry).
    var kindLine: Int?
    /// Line of `name` (or of the entry).
    var nameLine: Int?
    /// The normalised endpoint, when valid.
    var endpoint: String?
    /// Line of `networking.endpoint` (or of `name` when defaulted).
    var endpointLine: Int?
    /// For a TrafficSplitter: each target's name with its key path and line.
    var targets: [(name: String, path: String, line: Int?)] = []
    /// Problems of this entry.
    var issues: [ConfigIssue]
    /// Keys of this entry accepted without effect (Cortex settings), each with why.
    var warnings: [ConfigIssue] = []
}

/// Reads one API entry of `tern.yaml` into an ``APISpec``: types, defaults, ranges and the
/// rules between keys of the same entry. Rules across entries are ``ConfigLoader``'s.
struct APISpecParser {
    var reader: YAMLReader
    /// Line of `predictor.server_side_batching.max_batch_size`, for the check against
    /// `autoscaling.max_replica_concurrency`.
    var maxBatchSizeLine: Int?
    /// `predictor.server_side_batching.max_batch_size` when valid, even if the rest of the
    /// section is not, so its check against `max_replica_concurrency` is never hidden.
    var maxBatchSize: Int?
    /// Where `predictor.server_side_batching` is, when the entry has it: its key path and line.
    var batchingSection: (path: String, line: Int?)?

    init(file: String) {
        reader = YAMLReader(file: file)
    }

    /// Reads the entry `node`; its problems are in the result's `issues`.
    static func parse(_ node: Node, file: String) -> ParsedAPI {
        var parser = APISpecParser(file: file)
        return parser.parse(node)
    }

    private mutating func parse(_ node: Node) -> ParsedAPI {
        guard let written = reader.mapping(node, path: "", line: node.mark?.line) else {
            return ParsedAPI(issues: reader.issues)
        }
        var result = ParsedAPI(issues: [])
        let name: String? = reader.read("name", in: written)
        result.name = name
        result.nameLine = written.line("name")
        if let name {
            reader.api = name
            if let problem = APIName.validate(name) {
                reader.report(problem, at: "name", line: written.valueLine("name"))
            }
        } else if !written.has("name") {
            reader.reportMissing("name", in: written, what: "a DNS-1035 label such as \"iris\"")
        }

        let kind: APIKind? = reader.choice("kind", in: written, what: "a kind of API")
        let entry = acceptingHandler(kind == .taskAPI ? acceptingDefinition(written) : written)
        result.kind = kind
        result.kindLine = entry.valueLine("kind")
        if !entry.has("kind") {
            reader.reportMissing("kind", in: entry, what: APIKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let otherSchema = checkOtherCortexSchemas(entry, kind: kind)
        checkTopLevelKeys(entry, kind: kind, skipping: otherSchema)

        let (networking, endpointLine) = parseNetworking(entry, name: name ?? "", kind: kind)
        let nameIsValid = name.map { APIName.validate($0) == nil } ?? false
        result.endpoint = endpointLine != nil || nameIsValid ? networking?.endpoint : nil
        result.endpointLine = endpointLine ?? result.nameLine

        var spec: APISpec?
        // With a missing or misspelt kind, `apis` tells a TrafficSplitter apart (no cascade of
        // "predictor is missing").
        if (kind ?? (entry.has("apis") ? .trafficSplitter : nil)) == .trafficSplitter {
            let targets = parseTrafficSplit(entry, name: name)
            result.targets = targets.lines
            if let name, kind != nil, let networking {
                spec = APISpec(
                    name: name, kind: .trafficSplitter, predictor: nil, networking: networking,
                    trafficSplit: targets.targets)
            }
        } else {
            let predictor = parsePredictor(entry)
            checkBatchingKind(kind: kind)
            if !entry.has("predictor"), otherSchema == nil {
                reader.reportMissing("predictor", in: entry, what: "e.g. predictor: {type: python, path: predictor.py}")
            }
            let compute = parseCompute(entry)
            let autoscaling = parseAutoscaling(entry, predictor: predictor)
            let updateStrategy = parseUpdateStrategy(entry)
            let monitoring = parseMonitoring(entry)
            if let name, let kind, let predictor, let networking {
                spec = APISpec(
                    name: name, kind: kind, predictor: predictor, networking: networking, compute: compute,
                    autoscaling: autoscaling, updateStrategy: updateStrategy, monitoring: monitoring
                )
            }
        }
        result.issues = reader.issues
        result.warnings = reader.warnings
        result.spec = reader.issues.isEmpty ? spec : nil
        return result
    }

    /// The entry with Cortex 0.34–0.35's `handler:` read as `predictor:` (the same section under
    /// its later name; messages then name it `predictor`). Both at once is a problem: which one
    /// is meant cannot be told.
    private mutating func acceptingHandler(_ entry: YAMLMapping) -> YAMLMapping {
        guard let handler = entry.entry("handler") else { return entry }
        if entry.entry("predictor") != nil {
            reader.report(
                "cannot be combined with predictor: handler is Cortex 0.34's name for the same section; keep one",
                at: "handler", line: handler.keyLine)
            return YAMLMapping(path: entry.path, line: entry.line, entries: entry.entries.filter { $0.key != "handler" })
        }
        let entries = entry.entries.map { $0.key == "handler" ? .init(key: "predictor", keyLine: $0.keyLine, value: $0.value) : $0 }
        return YAMLMapping(path: entry.path, line: entry.line, entries: entries)
    }

    /// A TaskAPI's `definition:` (Cortex's name for a task's code: `path` to a file with a class
    /// `Task`, `python_path`, `env`) read as `predictor:`; both at once is a problem.
    private mutating func acceptingDefinition(_ entry: YAMLMapping) -> YAMLMapping {
        let key = entry.entry("definition") != nil ? "definition" : "predictor"
        guard let definition = entry.entry(key) else { return entry }
        if key == "definition", entry.entry("predictor") != nil {
            reader.report(
                "cannot be combined with predictor: a TaskAPI's code is its definition: {path: task.py}; keep one",
                at: "definition", line: definition.keyLine)
            return YAMLMapping(path: entry.path, line: entry.line, entries: entry.entries.filter { $0.key != "definition" })
        }
        let entries = entry.entries.map { item -> YAMLMapping.Entry in
            guard item.key == key else { return item }
            var value = item.value
            // Cortex's definition has no `type`: a task is Python code.
            if case .mapping(var mapping) = value, mapping[Node("type")] == nil {
                mapping[Node("type")] = Node("python")
                value = .mapping(mapping)
            }
            return .init(key: "predictor", keyLine: item.keyLine, value: value)
        }
        return YAMLMapping(path: entry.path, line: entry.line, entries: entries)
    }

    /// A Cortex schema this version cannot run, said once instead of as unknown keys and a
    /// missing predictor: a `pod:` spec (Cortex 0.36 and later: the API's containers) Returns the key it reported, if any.
    /// Server-side batching groups a RealtimeAPI's HTTP requests; the workers of a BatchAPI,
    /// TaskAPI or AsyncAPI take their work one item at a time, so the section would be accepted and
    /// ignored (and `predict` would get one payload where the predictor expects lists): refused,
    /// naming the kind.
    private mutating func checkBatchingKind(kind: APIKind?) {
        guard let kind, kind != .realtimeAPI, let section = batchingSection else { return }
        let hint =
            kind == .batchAPI
            ? "predict already gets a batch of items from each job, batch_size of them when you submit it"
            : "its workers take one request at a time"
        reader.report(
            "server_side_batching applies to a RealtimeAPI only; this API is a\(kind == .asyncAPI ? "n" : "") \(kind.rawValue) (\(hint)); remove the section",
            at: section.path, line: section.line)
    }

    private mutating func checkOtherCortexSchemas(_ entry: YAMLMapping, kind: APIKind?) -> String? {
        if let pod = entry.entry("pod") {
            let mixed = entry.has("predictor") ? " It cannot be combined with predictor: keep one." : ""
            reader.report(
                "a pod spec is Cortex 0.36+'s form, which runs container images Tern does not run. "
                    + "Write the API as a Python predictor instead: predictor: {type: python, path: predictor.py} "
                    + "with a class PythonPredictor (__init__(self, config), predict(self, payload)) doing what the "
                    + "container's server did (docs/cortex.md, \"From Cortex 0.36+\")." + mixed,
                at: "pod", line: pod.keyLine)
            return "pod"
        }
        return nil
    }

    /// Unknown keys of the entry; keys of the other shape (splitter vs predictor) get a
    /// message that says which kind has them. `skipping` was reported already.
    private mutating func checkTopLevelKeys(_ entry: YAMLMapping, kind: APIKind?, skipping: String?) {
        let entry = YAMLMapping(path: entry.path, line: entry.line, entries: entry.entries.filter { $0.key != skipping })
        switch kind {
        case .trafficSplitter:
            reader.checkKeys(entry, allowed: ConfigKeys.trafficSplitter) { key in
                ConfigKeys.api.contains(key)
                    ? "a TrafficSplitter has no \"\(key)\" "
                        + "(allowed: \(ConfigKeys.trafficSplitter.joined(separator: ", ")))"
                    : nil
            }
        case .some(let kind):
            reader.checkKeys(entry, allowed: ConfigKeys.api) { key in
                key == "apis" ? "only a TrafficSplitter has \"apis\"; this API is a \(kind.rawValue)" : nil
            }
        case nil:
            reader.checkKeys(entry, allowed: ConfigKeys.api + ["apis"])
        }
    }

    // MARK: networking

    /// The networking settings (nil when the endpoint is invalid) and the line of `endpoint`.
    /// `auth: api_key` is for a RealtimeAPI only (the gateway checks keys on its endpoint and on
    /// the TrafficSplitters and Open Inference routes that lead to it).
    private mutating func parseNetworking(_ entry: YAMLMapping, name: String, kind: APIKind?) -> (NetworkingSpec?, Int?) {
        var networking = NetworkingSpec(endpoint: "/" + name)
        guard let section = reader.section("networking", in: entry, allowed: ConfigKeys.networking) else {
            return (networking, nil)
        }
        networking.requestTimeoutMs = readDuration(
            "request_timeout", in: section, .greaterThan(0, atMost: AutoscalingSpec.maxPeriodMs))
        if section.has("auth"), let auth: APIAuth = reader.choice("auth", in: section, what: "an auth mode") {
            if auth == .apiKey, let kind, kind != .realtimeAPI {
                reader.report(
                    "api_key is for a RealtimeAPI; a \(kind.rawValue) cannot require keys yet (a TrafficSplitter "
                        + "checks the keys of the RealtimeAPI it picks: set auth there)",
                    at: section.path("auth"), line: section.valueLine("auth"))
            }
            networking.auth = auth
        }
        guard section.has("endpoint") else { return (networking, nil) }
        let line = section.valueLine("endpoint")
        guard let text: String = reader.read("endpoint", in: section) else { return (nil, line) }
        guard let endpoint = Self.normalizeEndpoint(text) else {
            reader.report(
                "\"\(text)\" is not a valid endpoint: a URL path such as /iris or /models/iris, made of letters, "
                    + "digits, \"-\", \"_\", \".\" and \"~\", not starting with a path of Tern's own "
                    + "(\(APIName.reserved.joined(separator: ", ")))",
                at: section.path("endpoint"), line: line)
            return (nil, line)
        }
        networking.endpoint = endpoint
        return (networking, line)
    }

    /// `iris` → `/iris`, `/a/b/` → `/a/b`; nil for an invalid path (empty, `/`, `..`, `//`,
    /// other characters, or a first segment of Tern's own such as `/v1`).
    static func normalizeEndpoint(_ text: String) -> String? {
        var path = text.hasPrefix("/") ? text : "/" + text
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        let allowed = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || "-_.~".contains(c)) }
        guard path.count <= 1000, let first = segments.first, !APIName.reserved.contains(String(first)),
            segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && $0.allSatisfy(allowed) })
        else { return nil }
        return path
    }

    // MARK: compute

    private mutating func parseCompute(_ entry: YAMLMapping) -> ComputeSpec {
        var compute = ComputeSpec()
        guard let section = reader.section("compute", in: entry, allowed: ConfigKeys.compute) else { return compute }
        if let cpu = reader.read(
            "cpu", in: section, expected: "a CPU quantity", parse: Quantity.cpuMillicores,
            limits: .between(20, 1_024_000),
            format: Quantity.formatMillicores)
        {
            compute.cpuMillicores = cpu
        }
        compute.gpu = reader.read("gpu", in: section, .between(0, 64)) ?? compute.gpu
        for key in ["mem", "mem_limit"] {
            let bytes = reader.read(
                key, in: section, expected: "a memory quantity", parse: Quantity.bytes,
                limits: .between(20 << 20, 1 << 50),
                format: Quantity.formatBytes)
            if key == "mem" { compute.memBytes = bytes } else { compute.memLimitBytes = bytes }
        }
        if let request = compute.memBytes, let limit = compute.memLimitBytes, limit < request {
            reader.report(
                "\(Quantity.formatBytes(limit)) must be at least compute.mem (\(Quantity.formatBytes(request))): "
                    + "the limit cannot be below the memory reserved",
                at: section.path("mem_limit"), line: section.valueLine("mem_limit"))
        }
        return compute
    }

    // MARK: monitoring

    private mutating func parseMonitoring(_ entry: YAMLMapping) -> MonitoringSpec? {
        guard let section = reader.section("monitoring", in: entry, allowed: ConfigKeys.monitoring) else { return nil }
        let modelType: MonitoringSpec.ModelType? = reader.choice("model_type", in: section, what: "a model type")
        if !section.has("model_type") {
            reader.reportMissing("model_type", in: section, what: "classification or regression")
        }
        let key: String? = reader.read("key", in: section)
        return modelType.map { MonitoringSpec(modelType: $0, key: key) }
    }

    // MARK: shared readers

    /// A duration under `key`, in ms, checked against `limits`; one too long to parse names
    /// the allowed range too (`"9999999999h" is too long (must be …)`).
    mutating func readDuration(_ key: String, in section: YAMLMapping, _ limits: Limits<Int64>) -> Int64? {
        let range = limits.describe(DurationParser.format(milliseconds:))
        return reader.read(
            key, in: section, expected: "a duration",
            parse: { (text: String) throws(ValueProblem) -> Int64 in
                do throws(DurationError) {
                    return try DurationParser.milliseconds(text)
                } catch {
                    let suffix = error.code == .tooLarge ? " (must be \(range))" : ""
                    throw ValueProblem(description: error.description + suffix)
                }
            }, limits: limits, format: DurationParser.format(milliseconds:))
    }

    /// Checks a path inside the project: relative, not leaving the project; nil when valid.
    static func projectPathProblem(_ path: String) -> String? {
        if path.isEmpty { return "must not be empty" }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "\"\(path)\" must be relative to the project directory (the directory of the config file)"
        }
        if path.split(separator: "/").contains("..") {
            return "\"\(path)\" must stay inside the project directory (no \"..\")"
        }
        return nil
    }
}
