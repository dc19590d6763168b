import ArgumentParser
import Foundation
import TernCore
import Yams

/// `-o/--output` of every read command (`get`, `describe`, `jobs`, `keys list`, `env list`,
/// `version`, …): a table for people, or the same documents as JSON or YAML for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// The command's own text (tables, `key: value` lines); coloured on a terminal (``Terminal``).
    case table
    /// Pretty JSON in the control plane's wire form (``WireJSON``: snake_case keys, sorted;
    /// ISO 8601 dates).
    case json
    /// YAML with the same keys and values as ``json``: the JSON document read as a
    /// ``JSONValue`` and written by Yams' encoder (keys sorted), so that a date is the JSON's
    /// ISO 8601 string (quoted) and `Yams.load` of it gives what a JSON parser gives of ``json``.
    case yaml

    /// `value` as ``json`` or ``yaml``; for ``table`` (which has no generic form) as JSON.
    /// - Throws: the encoder's error (never for Tern's documents).
    func encoded(_ value: some Encodable) throws -> String {
        guard self == .yaml else {
            let pretty = WireJSON.encoder()
            pretty.outputFormatting.insert(.prettyPrinted)
            return String(decoding: try pretty.encode(value), as: UTF8.self)
        }
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        let document = try JSONDecoder().decode(JSONValue.self, from: try WireJSON.encoder().encode(value))
        return try encoder.encode(document).trimmingCharacters(in: .newlines)
    }
}
