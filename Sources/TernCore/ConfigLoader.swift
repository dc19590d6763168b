import Foundation
import Yams

/// `tern.yaml` parsed and validated: the APIs in file order.
public struct ProjectConfig: Sendable, Equatable, Codable {
    /// The APIs, in the order of the file.
    public var apis: [APISpec]
    /// Where keys are in the file, for problems found after parsing (a deploy's checks against
    /// what is deployed): API name → key path → 1-based line. Holds `name`, `kind` and, for a
    /// TrafficSplitter, `apis[i].name` (the line of the value). Kept apart from the specs, so
    /// that moving a key to another line changes no revision.
    public var lines: [String: [String: Int]]
    /// Keys accepted without effect (Cortex settings for its cluster, such as `predictor.image`),
    /// each naming file, line, API and key and saying why, in file order. A deploy shows them.
    public var warnings: [ConfigIssue]

    /// Creates a config; `lines` as described on the property (empty: no lines known).
    public init(apis: [APISpec], lines: [String: [String: Int]] = [:], warnings: [ConfigIssue] = []) {
        self.apis = apis
        self.lines = lines
        self.warnings = warnings
    }

    /// The line of `keyPath` (e.g. `apis[1].name`) in the entry of API `api`, when known.
    public func line(api: String, keyPath: String) -> Int? {
        lines[api]?[keyPath]
    }
}

/// Reads `tern.yaml` (or Cortex's `cortex.yaml`): a list of API entries.
///
/// Every key of the schema is read with its default, type and allowed range, and the rules
/// between keys are checked (e.g. `min_replicas ≤ max_replicas`); so are the rules across
/// entries (unique names and endpoints; a TrafficSplitter only targets RealtimeAPIs). All
/// problems are reported together in one ``ConfigError``, each naming the file, line, API and
/// key path and saying what is allowed:
///
/// ```
/// tern.yaml:7: api "iris": compute.cpu: "two" is not a CPU quantity (examples: 200m, 0.5, 2)
/// ```
///
/// Whether files exist (the predictor, models) and whether a TrafficSplitter's targets are
/// deployed are checked later, where the project and the server are known.
public enum ConfigLoader {
    /// Parses and validates `yaml`.
    /// - Parameters:
    ///   - yaml: The file's contents.
    ///   - fileName: The name used in messages, e.g. `tern.yaml`.
    /// - Throws: ``ConfigError`` with every problem found, in file order; a file over
    ///   ``ConfigFileLimits/standard`` (size, nesting, values with aliases expanded) is refused
    ///   with that one issue before it is composed.
    public static func load(yaml: String, fileName: String) throws(ConfigError) -> ProjectConfig {
        var reader = YAMLReader(file: fileName)
        if let violation = ConfigFileLimits.standard.check(yaml) {
            reader.report(violation.message, at: nil, line: violation.line)
            throw ConfigError(issues: reader.issues)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            reader.report(syntaxMessage(error), at: nil, line: syntaxLine(error))
            throw ConfigError(issues: reader.issues)
        }
        let expected = "expected a list of APIs, each starting with \"- name:\""
        guard let root, !isNull(root) else {
            reader.report("\(expected); the file is empty", at: nil, line: 1)
            throw ConfigError(issues: reader.issues)
        }
        guard case .sequence(let entries) = root else {
            let hint = root.mapping?.keys.contains { $0.string == "name" } == true ? " (start the API with \"- \")" : ""
            reader.report("\(expected), got \(YAMLReader.describe(root))\(hint)", at: nil, line: root.mark?.line)
            throw ConfigError(issues: reader.issues)
        }
        guard !entries.isEmpty else {
            reader.report("\(expected); the list is empty", at: nil, line: root.mark?.line)
            throw ConfigError(issues: reader.issues)
        }

        let parsed = entries.map { APISpecParser.parse($0, file: fileName) }
        let issues = parsed.flatMap(\.issues) + crossEntryIssues(parsed, file: fileName)
        guard issues.isEmpty else {
            throw ConfigError(issues: sortedByLine(issues))
        }
        return ProjectConfig(
            apis: parsed.compactMap(\.spec), lines: keyLines(parsed), warnings: sortedByLine(parsed.flatMap(\.warnings)))
    }

    /// ``ProjectConfig/lines`` of the parsed entries.
    private static func keyLines(_ parsed: [ParsedAPI]) -> [String: [String: Int]] {
        var lines: [String: [String: Int]] = [:]
        for api in parsed {
            guard let name = api.spec?.name else { continue }
            var keys: [String: Int] = [:]
            keys["name"] = api.nameLine
            keys["kind"] = api.kindLine
            keys["networking.endpoint"] = api.endpointLine
            for target in api.targets { keys[target.path] = target.line }
            lines[name] = keys
        }
        return lines
    }

    /// Reads the file at `url` and parses it; messages name the file by its last path component.
    /// - Throws: ``ConfigError``, also when the file cannot be read, is not UTF-8 or is larger
    ///   than ``ConfigFileLimits/maxBytes`` (checked before it is read).
    public static func load(fileAt url: URL) throws(ConfigError) -> ProjectConfig {
        let fileName = url.lastPathComponent
        let yaml: String
        do {
            if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber,
                let violation = ConfigFileLimits.standard.checkSize(size.intValue)
            {
                throw ConfigError(issues: [
                    ConfigIssue(file: fileName, line: nil, api: nil, keyPath: nil, message: violation.message)
                ])
            }
            let data = try Data(contentsOf: url)
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(issues: [
                    ConfigIssue(
                        file: fileName, line: nil, api: nil, keyPath: nil, message: "the file is not UTF-8 text")
                ])
            }
            yaml = text
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(issues: [
                ConfigIssue(
                    file: fileName, line: nil, api: nil, keyPath: nil,
                    message: "cannot read \(url.path): \(error.localizedDescription)")
            ])
        }
        return try load(yaml: yaml, fileName: fileName)
    }

    // MARK: Rules across entries

    /// Duplicate names, duplicate endpoints, and splitter targets that are not RealtimeAPIs.
    private static func crossEntryIssues(_ parsed: [ParsedAPI], file: String) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        var firstByName: [String: ParsedAPI] = [:]
        var firstByEndpoint: [String: ParsedAPI] = [:]
        for api in parsed {
            if let name = api.name, APIName.validate(name) == nil {
                if let first = firstByName[name] {
                    issues.append(
                        ConfigIssue(
                            file: file, line: api.nameLine, api: name, keyPath: "name",
                            message: "\"\(name)\" is already the name of the API on line \(first.nameLine ?? 0); "
                                + "API names must be unique"))
                } else {
                    firstByName[name] = api
                }
            }
            if let endpoint = api.endpoint {
                if let first = firstByEndpoint[endpoint] {
                    issues.append(
                        ConfigIssue(
                            file: file, line: api.endpointLine, api: api.name, keyPath: "networking.endpoint",
                            message: "\"\(endpoint)\" is already the endpoint of api \"\(first.name ?? "")\" "
                                + "(line \(first.endpointLine ?? 0)); endpoints must be unique"))
                } else {
                    firstByEndpoint[endpoint] = api
                }
            }
        }
        for api in parsed where api.kind == .trafficSplitter {
            for target in api.targets {
                guard let kind = firstByName[target.name]?.kind, kind != .realtimeAPI else { continue }
                issues.append(
                    ConfigIssue(
                        file: file, line: target.line, api: api.name, keyPath: target.path,
                        message:
                            "\"\(target.name)\" is a \(kind.rawValue); "
                            + "a TrafficSplitter sends traffic to RealtimeAPIs only"
                    ))
            }
        }
        return issues
    }

    /// Stable sort by line; issues without a line first.
    private static func sortedByLine(_ issues: [ConfigIssue]) -> [ConfigIssue] {
        issues.enumerated()
            .sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
            .map(\.element)
    }

    // MARK: YAML errors

    private static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.tagName == .null }
        return false
    }

    static func syntaxLine(_ error: any Error) -> Int? {
        switch error as? YamlError {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }

    static func syntaxMessage(_ error: any Error) -> String {
        switch error as? YamlError {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            // H2 (C8): libyaml's nesting limit, said in Tern's words.
            if problem.hasPrefix("Maximum nesting level reached") {
                return "YAML syntax error: the file nests lists or mappings more than 1,000 levels deep (libyaml's limit); a tern.yaml needs fewer than 10"
            }
            let what = context.map { "\($0.text) " } ?? ""
            return "YAML syntax error: \(what)\(problem)"
        case .duplicatedKeysInMapping(let duplicates, _):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return duplicates.count == 1
                ? "YAML error: the key \(keys) appears more than once in the same mapping"
                : "YAML error: the keys \(keys) appear more than once in the same mapping"
        default:
            return "YAML error: \(error)"
        }
    }
}
