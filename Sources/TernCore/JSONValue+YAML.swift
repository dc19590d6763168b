import Yams

extension JSONValue {
    /// Reads a YAML document as JSON, by the mapping ``JSONValue`` documents (mappings →
    /// objects with string keys, YAML 1.1 core scalars → numbers, booleans and null, every other
    /// scalar, dates included, → its string): e.g. `docs/openapi.yaml`, which the control plane
    /// serves as `/v1/openapi.json`.
    ///
    /// - Parameters:
    ///   - yaml: The document's text.
    ///   - fileName: The name used in issues, e.g. `openapi.yaml`.
    /// - Throws: ``ConfigError`` for a syntax error, an empty document, a key that is not a
    ///   plain value, or a value JSON cannot hold exactly (NaN, infinities, integers beyond
    ///   ±2^53), each with its line.
    public init(yaml: String, fileName: String) throws(ConfigError) {
        var reader = YAMLReader(file: fileName)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            reader.report(ConfigLoader.syntaxMessage(error), at: nil, line: ConfigLoader.syntaxLine(error))
            throw ConfigError(issues: reader.issues)
        }
        guard let root else {
            reader.report("the document is empty", at: nil, line: 1)
            throw ConfigError(issues: reader.issues)
        }
        guard let value = reader.json(root, path: ""), reader.issues.isEmpty else {
            throw ConfigError(issues: reader.issues)
        }
        self = value
    }
}
