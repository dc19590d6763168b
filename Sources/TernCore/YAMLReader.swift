import Yams

/// Reads typed values out of a composed YAML tree (`Yams.compose`) and collects the problems
/// it meets, each with the line of the offending key or value.
///
/// One reader serves one API entry: ``api`` names it in every issue, and ``hasIssue(at:)``
/// tells later cross-key checks which keys already failed, so one mistake is reported once.
/// An explicit `null` (or an empty value, `key:`) counts as absent, so the default applies.
struct YAMLReader {
    /// File name used in issues.
    let file: String
    /// The API being read, once its name is known.
    var api: String?
    /// Problems found so far.
    private(set) var issues: [ConfigIssue] = []
    /// Keys read but without effect here (Cortex settings for its cluster), found so far.
    private(set) var warnings: [ConfigIssue] = []
    private var failedPaths: Set<String> = []

    init(file: String, api: String? = nil) {
        self.file = file
        self.api = api
    }

    /// Records a problem at `path` (nil for the whole entry or file).
    mutating func report(_ message: String, at path: String?, line: Int?) {
        issues.append(ConfigIssue(file: file, line: line, api: api, keyPath: path, message: message))
        if let path { failedPaths.insert(path) }
    }

    /// Records a key that is accepted but has no effect, with why (`message`).
    mutating func warn(_ message: String, at path: String?, line: Int?) {
        warnings.append(ConfigIssue(file: file, line: line, api: api, keyPath: path, message: message))
    }

    /// Whether a problem was already reported at `path`.
    func hasIssue(at path: String) -> Bool {
        failedPaths.contains(path)
    }

    // MARK: Mappings

    /// Opens `node` as a mapping at `path` ("" for the API entry itself), applying YAML merge
    /// keys (`<<: *defaults`); reports a node of another type.
    mutating func mapping(_ node: Node, path: String, line: Int?) -> YAMLMapping? {
        guard case .mapping(let mapping) = node else {
            report("expected a mapping, got \(Self.describe(node))", at: path.isEmpty ? nil : path, line: line)
            return nil
        }
        var entries: [YAMLMapping.Entry] = []
        var merged: [YAMLMapping.Entry] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                report(
                    "a key must be a plain value, got \(Self.describe(key))", at: path.isEmpty ? nil : path,
                    line: key.mark?.line)
                continue
            }
            if scalar.tagName == .merge {
                let sources = value.sequence.map(Array.init) ?? [value]
                for source in sources {
                    guard let inner = self.mapping(source, path: path, line: source.mark?.line) else { continue }
                    merged += inner.entries.filter { entry in !merged.contains { $0.key == entry.key } }
                }
            } else {
                entries.append(.init(key: scalar.string, keyLine: scalar.mark?.line, value: value))
            }
        }
        entries += merged.filter { entry in !entries.contains { $0.key == entry.key } }
        return YAMLMapping(path: path, line: line ?? mapping.mark?.line, entries: entries)
    }

    /// Opens the mapping under `key` of `parent` and checks its keys against `allowed` (and
    /// `legacy`, older names accepted but not listed in messages); nil when absent, null or not a
    /// mapping (reported).
    mutating func section(
        _ key: String, in parent: YAMLMapping, allowed: [String], legacy: [String] = []
    ) -> YAMLMapping? {
        guard let entry = parent.entry(key), let node = parent.value(key) else { return nil }
        guard let section = mapping(node, path: parent.path(key), line: entry.keyLine) else { return nil }
        checkKeys(section, allowed: allowed, legacy: legacy)
        return section
    }

    /// Reports every key of `mapping` that is not in `allowed`, with a did-you-mean when a key is
    /// close to an allowed one (or is exactly a key of another section), and the allowed keys
    /// otherwise. A Cortex key that has no effect here (``ConfigKeys/cortexIgnored``) is a
    /// warning saying why, not a problem. `explain` may give a specific message for a key instead.
    mutating func checkKeys(
        _ mapping: YAMLMapping, allowed: [String], legacy: [String] = [], explain: (String) -> String? = { _ in nil }
    ) {
        for entry in mapping.entries where !allowed.contains(entry.key) && !legacy.contains(entry.key) {
            let message: String
            if let specific = explain(entry.key) {
                message = specific
            } else if let reason = ConfigKeys.cortexIgnored(entry.key, in: mapping.path) {
                warn("has no effect in Tern (a Cortex setting): \(reason)", at: mapping.path(entry.key), line: entry.keyLine)
                continue
            } else if let close = Suggestions.closest(to: entry.key, in: allowed) {
                message = "unknown key (did you mean \"\(close)\"?)"
            } else if let home = ConfigKeys.home(of: entry.key, notIn: mapping.path) {
                message = "unknown key here (did you mean \"\(home)\"?)"
            } else {
                message = "unknown key (allowed: \(allowed.joined(separator: ", ")))"
            }
            report(message, at: mapping.path(entry.key), line: entry.keyLine)
        }
    }

    /// Reports `key` of `mapping` as missing; `what` says what it is, e.g. `a name such as "iris"`.
    mutating func reportMissing(_ key: String, in mapping: YAMLMapping, what: String) {
        report("required key is missing (\(what))", at: mapping.path(key), line: mapping.line)
    }

    // MARK: Scalars

    /// The value of `key` as `T`; nil when absent or null, or when of another type (reported as
    /// `expected an integer, got string "abc"`).
    mutating func read<T: YAMLScalar>(_ key: String, in mapping: YAMLMapping) -> T? {
        read(key, in: mapping, range: nil)
    }

    /// As ``read(_:in:)``; `range` (e.g. `between 1 and 64`) is named when the value is of the
    /// right type but too large for it (`99999999999999999999999 is out of range (must be …)`).
    private mutating func read<T: YAMLScalar>(_ key: String, in mapping: YAMLMapping, range: String?) -> T? {
        guard let node = mapping.value(key) else { return nil }
        guard case .scalar(let scalar) = node, let value = T(yaml: scalar) else {
            let message: String
            if case .scalar(let scalar) = node, T.isOutOfRange(scalar) {
                message = "\(scalar.string) is out of range" + (range.map { " (must be \($0))" } ?? "")
            } else {
                message = "expected \(T.yamlDescription), got \(Self.describe(node))"
            }
            report(message, at: mapping.path(key), line: mapping.valueLine(key))
            return nil
        }
        return value
    }

    /// The value of `key` as `T`, also checked against `limits` (reported as
    /// `must be between 1 and 64 (got 0)`).
    mutating func read<T: YAMLScalar & Comparable>(
        _ key: String, in mapping: YAMLMapping, _ limits: Limits<T>, format: (T) -> String = { "\($0)" }
    ) -> T? {
        guard let value: T = read(key, in: mapping, range: limits.describe(format)) else { return nil }
        return check(value, limits, key: key, in: mapping, format: format)
    }

    /// The text of the scalar under `key` (a string or a number) turned into a `T` by `parse`;
    /// a parse error's description is the message.
    mutating func read<T, Failure: Error & CustomStringConvertible>(
        _ key: String, in mapping: YAMLMapping, expected: String, parse: (String) throws(Failure) -> T
    ) -> T? {
        guard let node = mapping.value(key) else { return nil }
        guard case .scalar(let scalar) = node, [.str, .int, .float].contains(scalar.tagName) else {
            report(
                "expected \(expected), got \(Self.describe(node))", at: mapping.path(key), line: mapping.valueLine(key))
            return nil
        }
        do {
            return try parse(scalar.string)
        } catch {
            report(error.description, at: mapping.path(key), line: mapping.valueLine(key))
            return nil
        }
    }

    /// As ``read(_:in:expected:parse:)``, then checked against `limits`.
    mutating func read<T: Comparable, Failure: Error & CustomStringConvertible>(
        _ key: String, in mapping: YAMLMapping, expected: String, parse: (String) throws(Failure) -> T,
        limits: Limits<T>, format: (T) -> String
    ) -> T? {
        guard let value = read(key, in: mapping, expected: expected, parse: parse) else { return nil }
        return check(value, limits, key: key, in: mapping, format: format)
    }

    /// One of the raw values of `T`; otherwise reported with a did-you-mean or the allowed values.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, in mapping: YAMLMapping, what: String) -> T?
    where T.RawValue == String {
        guard let text: String = read(key, in: mapping) else { return nil }
        if let value = T(rawValue: text) { return value }
        let allowed = T.allCases.map(\.rawValue)
        let hint =
            Suggestions.closest(to: text, in: allowed).map { "did you mean \"\($0)\"?" }
            ?? "allowed: \(allowed.joined(separator: ", "))"
        report("\"\(text)\" is not \(what) (\(hint))", at: mapping.path(key), line: mapping.valueLine(key))
        return nil
    }

    /// The list under `key`; nil when absent or null, or not a list (reported).
    mutating func sequence(_ key: String, in mapping: YAMLMapping) -> [Node]? {
        guard let node = mapping.value(key) else { return nil }
        guard case .sequence(let sequence) = node else {
            report("expected a list, got \(Self.describe(node))", at: mapping.path(key), line: mapping.valueLine(key))
            return nil
        }
        return Array(sequence)
    }

    private mutating func check<T: Comparable>(
        _ value: T, _ limits: Limits<T>, key: String, in mapping: YAMLMapping, format: (T) -> String
    ) -> T? {
        guard !limits.contains(value) else { return value }
        report(
            "must be \(limits.describe(format)) (got \(format(value)))", at: mapping.path(key),
            line: mapping.valueLine(key))
        return nil
    }

    // MARK: Arbitrary values

    /// `node` as JSON: for `predictor.config`. Reports values JSON cannot hold exactly
    /// (NaN, infinities, integers beyond ±2^53) and keys that are not plain values.
    mutating func json(_ node: Node, path: String) -> JSONValue? {
        switch node {
        case .scalar(let scalar):
            switch scalar.tagName {
            case .null: return .null
            case .bool: return Bool.construct(from: scalar).map(JSONValue.bool) ?? .string(scalar.string)
            case .int, .float:
                guard let number = Double.construct(from: scalar), number.isFinite else {
                    report(
                        "\(scalar.string) cannot be represented in JSON; quote it to pass a string", at: path,
                        line: scalar.mark?.line)
                    return nil
                }
                if scalar.tagName == .int,
                    Int.construct(from: scalar).map({ abs(Double($0)) > JSONValue.maxExactInteger }) ?? true
                {
                    report(
                        "\(scalar.string) is too large to be kept exactly (at most 2^53); quote it to pass a string",
                        at: path, line: scalar.mark?.line)
                    return nil
                }
                return .number(number)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for (index, element) in sequence.enumerated() {
                if let value = json(element, path: "\(path)[\(index)]") { values.append(value) }
            }
            return values.count == sequence.count ? .array(values) : nil
        case .mapping:
            guard let source = mapping(node, path: path, line: node.mark?.line) else { return nil }
            var object: [String: JSONValue] = [:]
            var complete = true
            for entry in source.entries {
                if let value = json(entry.value, path: source.path(entry.key)) {
                    object[entry.key] = value
                } else {
                    complete = false
                }
            }
            return complete ? .object(object) : nil
        case .alias:
            report("unresolved alias", at: path, line: node.mark?.line)
            return nil
        }
    }

    // MARK: Describing nodes

    /// How a node reads in a message: `string "abc"`, `integer 5`, `number 33.3`,
    /// `boolean true`, `null`, `a mapping`, `a list`.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            switch scalar.tagName {
            case .str: return "string \"\(scalar.string)\""
            case .int: return "integer \(scalar.string)"
            case .float: return "number \(scalar.string)"
            case .bool: return "boolean \(scalar.string)"
            case .null: return "null"
            default: return "\"\(scalar.string)\""
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}
