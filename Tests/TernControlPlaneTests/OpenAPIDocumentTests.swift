import Foundation
import TernCore
import TernTesting
import Testing

@testable import TernControlPlane

/// The OpenAPI document the server embeds is `docs/openapi.yaml` as it is now, and reads as JSON.
@Suite struct OpenAPIDocumentTests {
    @Test func theEmbeddedDocumentIsDocsOpenAPIYAML() throws {
        let file = TestEnvironment.packageRoot.appendingPathComponent("docs/openapi.yaml")
        #expect(OpenAPIDocument.yaml == (try String(contentsOf: file, encoding: .utf8)))
    }

    @Test func itReadsAsJSONWithEveryRouteTheServerServes() throws {
        let json = try OpenAPIDocument.json()
        guard case .object(let document) = try JSONDecoder().decode(JSONValue.self, from: json),
            case .object(let paths)? = document["paths"]
        else { Issue.record("not an object with paths"); return }
        #expect(document["openapi"] == .string("3.0.3"))
        for path in [
            "/healthz", "/v1/info", "/v1/openapi.json", "/v1/deploy", "/v1/apis", "/v1/apis/{name}", "/v1/apis/{name}/refresh",
            "/v1/apis/{name}/logs", "/v1/apis/{name}/jobs", "/v1/jobs", "/v1/apis/{name}/keys", "/v1/keys", "/v1/keys/{id}",
            "/v1/token/rotate",
        ] {
            #expect(paths[path] != nil, "\(path) is not in docs/openapi.yaml")
        }
    }
}
