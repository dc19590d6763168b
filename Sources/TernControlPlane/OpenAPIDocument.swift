import Foundation
import TernCore

/// The control-plane API's OpenAPI 3 document, `docs/openapi.yaml`, embedded at build time by
/// the `EmbedOpenAPIPlugin` build-tool plugin (the generated `EmbeddedOpenAPIDocument.swift` is
/// not checked in), and served by ``ControlPlaneServer`` as `GET /v1/openapi.json`.
public enum OpenAPIDocument {
    /// The document as written in `docs/openapi.yaml` (UTF-8 text).
    public static var yaml: String {
        String(decoding: Data(base64Encoded: generatedYAMLBase64) ?? Data(), as: UTF8.self)
    }

    /// The document as JSON (``JSONValue/init(yaml:fileName:)``): keys sorted, `/` not escaped.
    /// - Throws: ``ConfigError`` when the embedded YAML is not a document JSON can hold (a test
    ///   checks it is), or the encoder's error.
    public static func json() throws -> Data {
        let value = try JSONValue(yaml: yaml, fileName: "docs/openapi.yaml")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
