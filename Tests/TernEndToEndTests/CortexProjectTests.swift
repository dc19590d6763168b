import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Cortex-shaped projects deploy without edits (issue 12): older key names are read as
    /// today's and keys for Cortex's cluster are warnings, not errors.
    @Suite(.serialized, .sharedServer())
    struct CortexProjects {
        @Test("a Cortex 0.34 project (handler:, image, log_level, shm_size, api_gateway, inf) deploys with one warning per key and answers")
        func cortexProjectWithClusterKeysDeploysWithWarnings() async throws {
            let server = try Shared.require()
            let config = TestEnvironment.fixture("cortex-handler").appendingPathComponent("cortex.yaml")
            let result = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: ") }
            #expect(warnings.count == 5, "stderr: \(result.stderr)")
            for (line, key) in [
                (10, "predictor.image"), (11, "predictor.log_level"), (12, "predictor.shm_size"),
                (14, "networking.api_gateway"), (17, "compute.inf"),
            ] {
                #expect(
                    result.stderr.contains(#"warning: cortex.yaml:\#(line): api "cortex-handler": \#(key): has no effect in Tern"#),
                    "stderr: \(result.stderr)")
            }
            let answer = try await server.request("/cortex-handler", body: Data(#"{"name":"ada"}"#.utf8))
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["message"] as? String == "hello, ada")
        }

        @Test("a Cortex 0.36+ pod: spec is refused with one error that says what to write instead")
        func podSpecIsRefusedWithOneError() async throws {
            let server = try Shared.require()
            let directory = try scratchDirectory(in: server)
            let config = directory.appendingPathComponent("cortex.yaml")
            try """
                - name: text-generator
                  kind: RealtimeAPI
                  pod:
                    containers:
                      - name: api
                        image: quay.io/cortexlabs-test/realtime-text-generator-cpu:0.42.0
                """.write(to: config, atomically: true, encoding: .utf8)
            let result = try server.tern("deploy", config.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains(#"cortex.yaml:3: api "text-generator": pod: a pod spec is Cortex 0.36+'s form"#), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("unknown key"), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("required key is missing"), "stderr: \(result.stderr)")
        }
    }
}
