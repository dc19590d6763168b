import HTTPTypes
import Testing
import TernCore

@testable import TernGateway

/// The `/v2` routing table of the Open Inference Protocol (pure).
@Suite
struct OpenInferenceRouteTests {
    private func parse(_ method: HTTPRequest.Method, _ path: String) -> Result<OpenInferenceRoute, OpenInferenceRoute.Mismatch> {
        OpenInferenceRoute.parse(method: method, path: path)
    }

    @Test("every protocol path maps to its route, with and without /versions/{v}")
    func routes() {
        #expect(parse(.get, "/v2") == .success(.serverMetadata))
        #expect(parse(.get, "/v2/health/live") == .success(.serverLive))
        #expect(parse(.get, "/v2/health/ready") == .success(.serverReady))
        #expect(parse(.get, "/v2/models/iris") == .success(.modelMetadata(model: "iris", version: nil)))
        #expect(parse(.get, "/v2/models/iris/versions/3") == .success(.modelMetadata(model: "iris", version: "3")))
        #expect(parse(.get, "/v2/models/iris/ready") == .success(.modelReady(model: "iris", version: nil)))
        #expect(parse(.get, "/v2/models/iris/versions/2/ready") == .success(.modelReady(model: "iris", version: "2")))
        #expect(parse(.post, "/v2/models/iris/infer") == .success(.infer(model: "iris", version: nil)))
        #expect(parse(.post, "/v2/models/iris/versions/2/infer/") == .success(.infer(model: "iris", version: "2")))
    }

    @Test("unknown paths are 404 not_found listing the protocol's paths")
    func unknownPaths() {
        for path in ["/v2/models", "/v2/models/iris/explain", "/v2/health", "/v2/models//infer", "/v2/models/iris/versions//infer"] {
            guard case .failure(let mismatch) = parse(.get, path) else {
                Issue.record("\(path) should not match")
                continue
            }
            #expect(mismatch.status == 404)
            #expect(mismatch.kind == "not_found")
            #expect(mismatch.message.hasPrefix("\(path) is not an Open Inference Protocol path"))
        }
    }

    @Test("a v2 model name is an API name, or <api>.<model> for one of the API's models")
    func targets() {
        #expect(OpenInferenceRoute.target(of: "iris") == ("iris", nil))
        #expect(OpenInferenceRoute.target(of: "iris.setosa") == ("iris", "setosa"))
        #expect(OpenInferenceRoute.target(of: "iris.v1.2") == ("iris", "v1.2"))
    }

    @Test("a wrong method is 405 with the method the path takes")
    func wrongMethod() {
        #expect(
            parse(.get, "/v2/models/iris/infer")
                == .failure(
                    .init(
                        status: 405, kind: "method_not_allowed",
                        message: "/v2/models/iris/infer takes POST, not GET (Open Inference Protocol)", allow: "POST")))
        guard case .failure(let mismatch) = parse(.post, "/v2/health/ready") else {
            Issue.record("POST /v2/health/ready should not match")
            return
        }
        #expect(mismatch.allow == "GET")
    }
}
