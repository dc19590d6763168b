import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// The gateway writes every `predict` frame header and reads every response header with its
    /// own JSON code (FrameHeaderJSON.swift): escaped and non-ASCII text and each content type
    /// the runtime sends arrive intact (fixtures `odd-text` and `query-headers`).
    @Suite(.serialized, .sharedServer())
    struct ResponseHeaders {
        /// Quotes, backslashes, control characters, non-ASCII and a character outside the BMP
        /// (sent by the runtime as a `\u` surrogate pair when it escapes non-ASCII).
        static let awkward = "say \"hi\" \\ back\\slash\nnew line\ttab \u{1} é 日本 😀"

        private func deployed() async throws -> TestServer {
            let server = try Shared.require()
            try deployFixture("odd-text", on: server)
            try await server.waitUntilLive("odd-text")
            return server
        }

        private func body(mode: String) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["mode": mode, "text": Self.awkward])
        }

        @Test("an error message with escapes, non-ASCII and a surrogate pair reaches the client unchanged")
        func escapedErrorMessage() async throws {
            let server = try await deployed()
            let response = try await server.request("/odd-text", body: try body(mode: "raise"))
            #expect(response.status == 500)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "predictor_error")
            #expect(error["message"] as? String == "ValueError: " + Self.awkward)
            #expect(error["api"] as? String == "odd-text")
        }

        @Test("each content type the runtime sends is passed through with the body", arguments: [
            ("text", "text/plain; charset=utf-8"), ("bytes", "application/octet-stream"), ("json", "application/json"),
        ])
        func contentTypes(mode: String, contentType: String) async throws {
            let server = try await deployed()
            let response = try await server.request("/odd-text", body: try body(mode: mode))
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == contentType)
            if mode == "json" {
                #expect(try jsonObject(response.body)["text"] as? String == Self.awkward)
            } else {
                #expect(response.body == Self.awkward)
            }
        }

        @Test("a query and a Content-Type with quotes and backslashes reach the predictor unchanged")
        func escapedRequestFields() async throws {
            let server = try Shared.require()
            try deployFixture("query-headers", on: server)
            try await server.waitUntilLive("query-headers")
            let contentType = #"text/plain; note="say \"hi\" C:\\dir""#
            let response = try await server.request(
                "/query-headers?model=a&v=%22x%22&w=%5C", body: Data("plain body".utf8), contentType: contentType)
            #expect(response.status == 200)
            let echoed = try jsonObject(response.body)
            #expect(echoed["payload"] as? String == "plain body")
            #expect(echoed["query_params"] as? [String: String] == ["model": "a", "v": "\"x\"", "w": "\\"])
            #expect((echoed["headers"] as? [String: String])?["content-type"] == contentType)
        }
    }
}
