import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// `tern serve --tls-certificate/--tls-key` (docs/security.md, TLS): both listeners speak
    /// HTTPS only, with a self-signed certificate made by the `openssl` command for 127.0.0.1.
    /// Clients: the real CLI (it trusts the certificate named in `server.json`), curl, and a
    /// TaskAPI worker of the Python runtime (it trusts `TERN_WORK_CA_FILE`).
    @Suite(.serialized, .timeLimit(.minutes(3)))
    struct TLS {
        /// A self-signed P-256 certificate for `127.0.0.1` (CN and IP subjectAltName) and its key,
        /// written to `directory` as `<name>-cert.pem` and `<name>-key.pem`.
        static func selfSigned(_ name: String, in directory: URL) throws -> (certificate: String, key: String) {
            let certificate = directory.appendingPathComponent("\(name)-cert.pem").path
            let key = directory.appendingPathComponent("\(name)-key.pem").path
            let result = try runCommand(
                "/usr/bin/env",
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                ])
            guard result.status == 0 else { throw TestFailure("openssl req failed: \(result.stderr)") }
            return (certificate, key)
        }

        /// `curl -sS` with `arguments`; returns its exit status and output (body, or the error).
        static func curl(_ arguments: String...) throws -> CommandResult {
            try runCommand("/usr/bin/env", ["curl", "-sS", "--max-time", "10"] + arguments)
        }

        @Test(
            "with a certificate both ports speak HTTPS only: the CLI deploys and predicts, curl trusting the certificate gets the answer, plain HTTP and an untrusting client are refused, a TaskAPI worker uses the work protocol over HTTPS"
        )
        func httpsOnBothPorts() async throws {
            let server = try TestServer()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let files = try Self.selfSigned("server", in: server.home)
            try await server.start(extraArguments: ["--tls-certificate", files.certificate, "--tls-key", files.key])

            let info = try WireJSON.decoder().decode(
                ServerInfo.self, from: Data(contentsOf: server.home.appendingPathComponent("server.json")))
            #expect(info.gatewayURL == "https://127.0.0.1:\(server.port)")
            #expect(info.controlURL == "https://127.0.0.1:\(server.controlPort)")
            #expect(info.tlsCAFile == files.certificate)

            // The CLI: deploy (waits until live), get, predict — all over HTTPS.
            try deployFixture("echo", on: server)
            let api = try server.api("echo")
            #expect(api.endpoint == "https://127.0.0.1:\(server.port)/echo")
            let payload = try scratchDirectory(in: server).appendingPathComponent("payload.json")
            try Data(#"{"tls": true}"#.utf8).write(to: payload)
            let predicted = try server.tern("predict", "echo", payload.path)
            #expect(predicted.status == 0, "\(predicted.stdout)\n\(predicted.stderr)")
            #expect(try jsonObject(predicted.stdout)["tls"] as? Bool == true, "\(predicted.stdout)")

            // curl trusting the certificate: the gateway's fast path and the control plane.
            let answer = try Self.curl(
                "--cacert", files.certificate, "-H", "Content-Type: application/json", "-d", #"{"n": 7}"#,
                "https://127.0.0.1:\(server.port)/echo")
            #expect(answer.status == 0, "\(answer.stderr)")
            #expect(try jsonObject(answer.stdout)["n"] as? Int == 7, "\(answer.stdout)")
            let health = try Self.curl("--cacert", files.certificate, "https://127.0.0.1:\(server.controlPort)/healthz")
            #expect(health.stdout == "ok\n", "\(health.stdout) \(health.stderr)")
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let listed = try Self.curl(
                "--cacert", files.certificate, "-H", "Authorization: Bearer \(token)",
                "https://127.0.0.1:\(server.controlPort)/v1/apis")
            #expect(listed.stdout.contains(#""name":"echo""#), "\(listed.stdout) \(listed.stderr)")

            // Plain HTTP gets no HTTP answer (the TLS handshake fails); a client that does not
            // trust the certificate refuses it (curl's 60: peer certificate cannot be verified).
            for port in [server.port, server.controlPort] {
                let plain = try Self.curl("-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz")
                #expect(plain.status != 0 && plain.stdout == "000", "port \(port): \(plain.status) \(plain.stdout) \(plain.stderr)")
                let untrusting = try Self.curl("-o", "/dev/null", "https://127.0.0.1:\(port)/healthz")
                #expect(untrusting.status == 60, "port \(port): \(untrusting.status) \(untrusting.stderr)")
            }

            // A TaskAPI worker leases and completes its job at the https control URL.
            let directory = try scratchDirectory(in: server)
            try FileManager.default.copyItem(
                at: TestEnvironment.fixture("task-writer").appendingPathComponent("task.py"), to: directory.appendingPathComponent("task.py"))
            try "- name: trainer\n  kind: TaskAPI\n  definition:\n    path: task.py\n".write(
                to: directory.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            let deployed = try server.tern("deploy", directory.appendingPathComponent("tern.yaml").path, "--timeout", "60")
            #expect(deployed.status == 0, "\(deployed.stdout)\n\(deployed.stderr)")
            let output = directory.appendingPathComponent("out.json").path
            let spec = directory.appendingPathComponent("job.json")
            try #"{"config": {"output_path": "\#(output)", "epochs": 2}}"#.write(to: spec, atomically: true, encoding: .utf8)
            let submitted = try server.tern("submit", "trainer", spec.path, "-o", "json")
            #expect(submitted.status == 0, "\(submitted.stdout)\n\(submitted.stderr)")
            let id = try #require(try jsonObject(submitted.stdout)["job_id"] as? String)
            var job: [String: Any] = [:]
            try await server.waitUntil(timeout: 90, "job \(id) to end") {
                job = try jsonObject(try server.tern("get", "trainer", id, "-o", "json").stdout)
                return !["enqueuing", "running"].contains(job["status"] as? String ?? "")
            }
            #expect(job["status"] as? String == "succeeded", "\(job)")
            #expect(try jsonObject(try String(contentsOfFile: output, encoding: .utf8))["epochs"] as? Int == 2)
            #expect(try await server.stop() == 0)
        }

        @Test(
            "tern serve refuses at start, naming the option: only one of the two options, a certificate file that is not PEM, a key of another certificate"
        )
        func badTLSFilesStopTheServerAtStart() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-tls-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = try Self.selfSigned("first", in: directory)
            let second = try Self.selfSigned("second", in: directory)
            let notPEM = directory.appendingPathComponent("not.pem").path
            try "hello".write(toFile: notPEM, atomically: true, encoding: .utf8)
            let cases: [(arguments: [String], message: String)] = [
                (["--tls-certificate", first.certificate], "--tls-certificate and --tls-key go together"),
                (["--tls-key", first.key], "--tls-certificate and --tls-key go together"),
                (["--tls-certificate", notPEM, "--tls-key", first.key], "--tls-certificate: cannot read \(notPEM) as PEM certificates"),
                (["--tls-certificate", first.certificate, "--tls-key", notPEM], "--tls-key: cannot read \(notPEM) as a PEM private key"),
                (["--tls-certificate", first.certificate, "--tls-key", second.key], "--tls-key: \(second.key) does not go with the certificate of \(first.certificate)"),
            ]
            for (index, item) in cases.enumerated() {
                let home = directory.appendingPathComponent("home-\(index)").path
                let result = try runCommand(
                    TestEnvironment.ternBinary,
                    [
                        "serve", "--home", home, "--port", String(TestEnvironment.freePort()),
                        "--control-port", String(TestEnvironment.freePort()),
                    ] + item.arguments)
                #expect(result.status != 0, "\(item.arguments)")
                #expect(result.stderr.contains(item.message), "\(item.arguments): \(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: home + "/server.json"), "\(item.arguments): it started")
            }
        }
    }
}
