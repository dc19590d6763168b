/// Every problem found in a config file, in file order.
///
/// ``ConfigLoader`` does not stop at the first mistake: it reads the whole file and reports all
/// issues together, so a user fixes them in one round. ``description`` has one line per issue:
///
/// ```
/// tern.yaml:7: api "iris": compute.cpu: "two" is not a CPU quantity (examples: 200m, 0.5, 2)
/// tern.yaml:9: api "iris": autoscaling.min_replicas: 5 must not exceed autoscaling.max_replicas (2)
/// ```
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problems, in file order (issues without a line come first).
    public var issues: [ConfigIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    /// One line per issue.
    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}

/// One problem in a config file: where it is (file, line, API, key path) and what is allowed.
public struct ConfigIssue: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The file name as given to the loader, e.g. `tern.yaml`.
    public var file: String
    /// 1-based line of the offending key or value; nil when the problem has no place in the file
    /// (e.g. the file cannot be read).
    public var line: Int?
    /// Name of the API the problem belongs to, when known.
    public var api: String?
    /// Dotted key path inside the API, e.g. `compute.cpu` or `predictor.models.paths[1].name`
    /// (list indices are 0-based); nil for problems of the file or of a whole API.
    public var keyPath: String?
    /// What is wrong and what is allowed, e.g. `"two" is not a CPU quantity (examples: 200m, 0.5, 2)`.
    public var message: String

    /// Creates an issue.
    public init(file: String, line: Int?, api: String?, keyPath: String?, message: String) {
        self.file = file
        self.line = line
        self.api = api
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line: api "name": key.path: message`, leaving out the parts that are nil.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let api { text += "api \"\(api)\": " }
        if let keyPath { text += "\(keyPath): " }
        return text + message
    }
}
