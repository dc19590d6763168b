/// Builds the `tern.yaml` text of test specs, so a test states only what its API needs.
///
/// Everything is written in block style, keys in the order given; scalars are written as the
/// test passes them (`"100m"`, `"1s"`, `"\"b c\""` for a quoted string), so the text parses to
/// exactly the values of the same spec written by hand:
///
/// ```swift
/// SpecYAML.realtime(
///     name: "slow", config: ["init_seconds": 4], minReplicas: 0, maxReplicas: 1,
///     autoscaling: ["window": "1s"])
/// ```
/// gives
/// ```yaml
/// - name: slow
///   kind: RealtimeAPI
///   predictor:
///     type: python
///     path: predictor.py
///     config:
///       init_seconds: 4
///   autoscaling:
///     min_replicas: 0
///     max_replicas: 1
///     window: 1s
/// ```
///
/// Each function returns one API, ending with a newline, so that several concatenate into one
/// file. Tests whose point is the exact text (line numbers in messages, flow style, Cortex's
/// spellings) keep their YAML literal.
public enum SpecYAML {
    /// A YAML value: a scalar as written, a mapping or a sequence.
    ///
    /// Literals of every kind make one: `"1s"`, `4`, `0.5`, `true`, `["a": 1]`, `[1, 2]`, and
    /// interpolation (`"\(count)"`) for values held in variables.
    public indirect enum Node: Equatable, ExpressibleByStringInterpolation, ExpressibleByIntegerLiteral,
        ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
    {
        /// A scalar, written as is.
        case scalar(String)
        /// A mapping; written as `{}` when empty.
        case mapping(Mapping)
        /// A sequence; written as `[]` when empty.
        case sequence([Node])

        /// The scalar `value`.
        public init(stringLiteral value: String) { self = .scalar(value) }
        /// The scalar `value` (e.g. `4`).
        public init(integerLiteral value: Int) { self = .scalar(String(value)) }
        /// The scalar `value` as Swift prints it (`0.5`, `2.0`).
        public init(floatLiteral value: Double) { self = .scalar(String(value)) }
        /// `true` or `false`.
        public init(booleanLiteral value: Bool) { self = .scalar(String(value)) }
        /// A sequence of `elements`.
        public init(arrayLiteral elements: Node...) { self = .sequence(elements) }
        /// A mapping of `elements`, in order.
        public init(dictionaryLiteral elements: (String, Node)...) {
            self = .mapping(Mapping(elements.map { (key: $0.0, value: $0.1) }))
        }
    }

    /// The keys of a mapping, in order: `["cpu": "100m", "mem": "128Mi"]`.
    public struct Mapping: Equatable, ExpressibleByDictionaryLiteral {
        /// The keys and their values, in order.
        public var entries: [(key: String, value: Node)]

        /// The mapping of `entries`, in order.
        public init(_ entries: [(key: String, value: Node)] = []) { self.entries = entries }
        /// The mapping of `elements`, in order.
        public init(dictionaryLiteral elements: (String, Node)...) {
            self.init(elements.map { (key: $0.0, value: $0.1) })
        }

        /// No key.
        public var isEmpty: Bool { entries.isEmpty }

        /// The keys of `lhs`, then those of `rhs` (a key in both is written twice, which the
        /// parser rejects).
        public static func + (lhs: Mapping, rhs: Mapping) -> Mapping { Mapping(lhs.entries + rhs.entries) }

        /// The same keys with the same values, in the same order.
        public static func == (lhs: Mapping, rhs: Mapping) -> Bool {
            lhs.entries.map(\.key) == rhs.entries.map(\.key) && lhs.entries.map(\.value) == rhs.entries.map(\.value)
        }
    }

    /// A RealtimeAPI.
    ///
    /// - Parameters:
    ///   - name: the API's `name`.
    ///   - type: `predictor.type`. Default `python`.
    ///   - path: `predictor.path`. Default `predictor.py`.
    ///   - predictor: further `predictor` keys, after `path` (`processes_per_replica`,
    ///     `threads_per_process`, `models`, …).
    ///   - config: `predictor.config`, after those; omitted when empty (the default).
    ///   - networking: `networking` keys; the section is omitted when empty (the default), and
    ///     so are the sections below.
    ///   - compute: `compute` keys.
    ///   - minReplicas: `autoscaling.min_replicas`; omitted when nil (the default), like the
    ///     next two.
    ///   - maxReplicas: `autoscaling.max_replicas`.
    ///   - initReplicas: `autoscaling.init_replicas`.
    ///   - autoscaling: further `autoscaling` keys, after those three.
    ///   - updateStrategy: `update_strategy` keys.
    ///   - extra: YAML lines added at the end, each indented by two spaces so they are keys of
    ///     this API (e.g. `"monitoring: {model_type: classification}"`). Default none.
    /// - Returns: the API as an item of the file's list, ending with a newline.
    public static func realtime(
        name: String, type: String = "python", path: String = "predictor.py", predictor: Mapping = [:],
        config: Mapping = [:], networking: Mapping = [:], compute: Mapping = [:], minReplicas: Int? = nil,
        maxReplicas: Int? = nil, initReplicas: Int? = nil, autoscaling: Mapping = [:], updateStrategy: Mapping = [:],
        extra: String = ""
    ) -> String {
        var predictorKeys: Mapping = ["type": .scalar(type), "path": .scalar(path)]
        predictorKeys = predictorKeys + predictor
        if !config.isEmpty { predictorKeys.entries.append(("config", .mapping(config))) }
        let counts: [(String, Int?)] = [
            ("min_replicas", minReplicas), ("max_replicas", maxReplicas), ("init_replicas", initReplicas),
        ]
        let replicas = Mapping(counts.compactMap { key, value in value.map { (key: key, value: Node.scalar(String($0))) } })
        var api: Mapping = ["name": .scalar(name), "kind": "RealtimeAPI", "predictor": .mapping(predictorKeys)]
        for (key, section) in [
            ("networking", networking), ("compute", compute), ("autoscaling", replicas + autoscaling),
            ("update_strategy", updateStrategy),
        ] where !section.isEmpty {
            api.entries.append((key, .mapping(section)))
        }
        return document(api, extra: extra)
    }

    /// A TrafficSplitter sending each target API its weight in percent of the requests.
    ///
    /// - Parameters:
    ///   - name: the splitter's `name`.
    ///   - endpoint: `networking.endpoint`; omitted when nil (the default: `/<name>`).
    ///   - apis: the targets, `name: weight`, in order.
    ///   - extra: YAML lines added at the end, as in ``realtime(name:type:path:predictor:config:networking:compute:minReplicas:maxReplicas:initReplicas:autoscaling:updateStrategy:extra:)``.
    /// - Returns: the API as an item of the file's list, ending with a newline.
    public static func trafficSplitter(
        name: String, endpoint: String? = nil, apis: KeyValuePairs<String, Int>, extra: String = ""
    ) -> String {
        var api: Mapping = ["name": .scalar(name), "kind": "TrafficSplitter"]
        if let endpoint { api.entries.append(("networking", ["endpoint": .scalar(endpoint)])) }
        let targets: [Node] = apis.map { ["name": .scalar($0.key), "weight": .scalar(String($0.value))] }
        api.entries.append(("apis", .sequence(targets)))
        return document(api, extra: extra)
    }

    /// The lines of `node` at `indent` spaces, block style; `key` is the key `node` is the value
    /// of, nil for an item of a sequence.
    private static func lines(_ node: Node, key: String?, indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        let head = key.map { pad + $0 + ":" } ?? pad + "-"
        let children: [String]
        switch node {
        case .scalar(let text): return [head + " " + text]
        case .mapping(let mapping) where mapping.isEmpty: return [head + " {}"]
        case .sequence(let items) where items.isEmpty: return [head + " []"]
        case .mapping(let mapping): children = mapping.entries.flatMap { lines($0.value, key: $0.key, indent: indent + 2) }
        case .sequence(let items): children = items.flatMap { lines($0, key: nil, indent: indent + 2) }
        }
        guard key == nil else { return [head] + children }
        // A sequence item starts on the dash's line: `- name: a` then `  weight: 50`.
        return [head + " " + children[0].dropFirst(indent + 2)] + children.dropFirst()
    }

    private static func document(_ api: Mapping, extra: String) -> String {
        var text = lines(.mapping(api), key: nil, indent: 0)
        text += extra.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }.map { "  " + $0 }
        return text.joined(separator: "\n") + "\n"
    }
}
