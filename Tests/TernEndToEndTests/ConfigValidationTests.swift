import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Bad input (config files, payloads) is refused without harming what is deployed.
    @Suite(.serialized, .sharedServer())
    struct BadInput {
        /// Deploys the echo fixture (API `echo`) and returns its document once live.
        private func deployedEcho() async throws -> (TestServer, APIDocument) {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            return (server, try server.api("echo"))
        }

        /// Checks that `echo` is still the same live replica and still answers.
        private func expectEchoUnaffected(
            _ server: TestServer, before: APIDocument, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let after = try server.api("echo")
            #expect(after.status == .live, sourceLocation: sourceLocation)
            #expect(after.revision == before.revision, sourceLocation: sourceLocation)
            #expect(after.replicas.map(\.pid) == before.replicas.map(\.pid), sourceLocation: sourceLocation)
            let answer = try await server.request("/echo", body: Data(#"{"still":"here"}"#.utf8))
            #expect(answer.status == 200, sourceLocation: sourceLocation)
            #expect(try jsonObject(answer.body)["still"] as? String == "here", sourceLocation: sourceLocation)
        }

        @Test("an unknown key in tern.yaml fails the deploy with file:line; the deployed API is unaffected")
        func unknownKeyIsRejected() async throws {
            let (server, before) = try await deployedEcho()
            let config = try makeProject(
                yaml: """
                    - name: echo
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                        colour: blue
                    """, predictorOf: "echo", in: server)
            let result = try server.tern("deploy", config.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains("tern.yaml:6:"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("predictor.colour"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("unknown key"), "stderr: \(result.stderr)")
            try await expectEchoUnaffected(server, before: before)
        }

        @Test("a bad cpu quantity in tern.yaml fails the deploy with file:line; the deployed API is unaffected")
        func badCPUQuantityIsRejected() async throws {
            let (server, before) = try await deployedEcho()
            let config = try makeProject(
                yaml: """
                    - name: echo
                      kind: RealtimeAPI
                      predictor:
                        type: python
                        path: predictor.py
                      compute:
                        cpu: lots
                    """, predictorOf: "echo", in: server)
            let result = try server.tern("deploy", config.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains("tern.yaml:7:"), "stderr: \(result.stderr)")
            #expect(result.stderr.contains("compute.cpu"), "stderr: \(result.stderr)")
            try await expectEchoUnaffected(server, before: before)
        }

        @Test("values that used to crash or hang the server are refused with the allowed range; the server and echo keep serving")
        func outOfRangeValuesAreRefused() async throws {
            let (server, before) = try await deployedEcho()
            let head = "- name: echo\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n"
            let cases: [(extra: String, expected: String)] = [
                ("  autoscaling: {min_replicas: 1000000000000000000, max_replicas: 1000000000000000000}",
                 #"tern.yaml:4: api "echo": autoscaling.min_replicas: must be between 0 and 1000 (got 1000000000000000000)"#),
                ("  autoscaling: {max_upscale_factor: 1e300}",
                 #"tern.yaml:4: api "echo": autoscaling.max_upscale_factor: must be greater than 1 and at most 100 (got 1e+300)"#),
                ("  autoscaling: {target_replica_concurrency: 1e-300, max_replicas: 2}",
                 #"tern.yaml:4: api "echo": autoscaling.target_replica_concurrency: must be between 0.01 and 65535 (got 1e-300)"#),
                ("  autoscaling: {min_replicas: 100000}",
                 #"tern.yaml:4: api "echo": autoscaling.min_replicas: must be between 0 and 1000 (got 100000)"#),
                ("  autoscaling: {max_upscale_factor: 1e400}",
                 #"tern.yaml:4: api "echo": autoscaling.max_upscale_factor: 1e400 is out of range (must be greater than 1 and at most 100)"#),
            ]
            for (extra, expected) in cases {
                let config = try makeProject(yaml: head + extra + "\n", predictorOf: "echo", in: server)
                let result = try server.tern("deploy", config.path)
                #expect(result.status != 0, "accepted: \(extra)")
                #expect(result.stderr.contains(expected), "for \(extra): \(result.stderr)")
            }
            let threads = try makeProject(
                yaml: "- name: echo\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py, "
                    + "threads_per_process: 99999999999999999999999}\n", predictorOf: "echo", in: server)
            let result = try server.tern("deploy", threads.path)
            #expect(
                result.stderr.contains(
                    #"tern.yaml:3: api "echo": predictor.threads_per_process: 99999999999999999999999 is out of range (must be between 1 and 1024)"#
                ), "\(result.stderr)")
            let health = try await server.request("/healthz", method: "GET", contentType: nil)
            #expect(health.status == 200)
            try await expectEchoUnaffected(server, before: before)
        }

        @Test("invalid JSON with Content-Type application/json gets 400 invalid_json; the replica keeps serving")
        func invalidJSONGets400() async throws {
            let (server, before) = try await deployedEcho()
            let response = try await server.request("/echo", body: Data(#"{"a": 1,"#.utf8))
            #expect(response.status == 400)
            let error = try errorObject(response.body)
            #expect(error["kind"] as? String == "invalid_json")
            #expect((error["message"] as? String)?.contains("line 1, column") == true, "\(error)")
            #expect(error["api"] as? String == "echo")
            try await expectEchoUnaffected(server, before: before)
            #expect(try server.api("echo").replicas.first?.restarts == 0)
        }

        @Test("an empty JSON body gets 400 empty_body")
        func emptyJSONBodyGets400() async throws {
            let (server, before) = try await deployedEcho()
            let response = try await server.request("/echo", body: Data())
            #expect(response.status == 400)
            #expect(try errorObject(response.body)["kind"] as? String == "empty_body")
            try await expectEchoUnaffected(server, before: before)
        }
    }
}
