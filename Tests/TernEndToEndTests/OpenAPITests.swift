import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TernCore
import TernTesting

/// A request to `server`'s control plane, with its bearer token unless `token` is false;
/// returns (status, content type, body).
func controlRequest(
    _ server: TestServer, _ method: HTTPMethod = .GET, _ path: String, body: String? = nil, contentType: String? = nil,
    token: Bool = true
) async throws -> (status: Int, contentType: String?, body: String) {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.controlPort)\(path)")
    request.method = method
    if token {
        let secret = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
    }
    if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
    return (Int(response.status.code), response.headers.first(name: "Content-Type"), text)
}

extension EndToEnd {
    /// The control plane serves its OpenAPI document (issue 14 part 10); scripts/schemathesis.sh
    /// fuzzes the server against it.
    @Suite(.serialized, .sharedServer())
    struct OpenAPI {
        @Test("GET /v1/openapi.json is docs/openapi.yaml as JSON; without the token 401 unauthorized")
        func servesTheDocumentInDocs() async throws {
            let server = try Shared.require()
            let answer = try await controlRequest(server, .GET, "/v1/openapi.json")
            #expect(answer.status == 200)
            #expect(answer.contentType == "application/json")
            let served = try JSONDecoder().decode(JSONValue.self, from: Data(answer.body.utf8))
            let file = try String(
                contentsOf: TestEnvironment.packageRoot.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
            #expect(served == (try JSONValue(yaml: file, fileName: "openapi.yaml")))
            guard case .object(let document) = served, case .object(let info)? = document["info"] else {
                Issue.record("no info object in \(answer.body.prefix(200))")
                return
            }
            #expect(info["title"] == .string("Tern control-plane API"))

            let refused = try await controlRequest(server, .GET, "/v1/openapi.json", token: false)
            #expect(refused.status == 401)
            #expect(try errorObject(refused.body)["kind"] as? String == "unauthorized")
        }
    }
}
