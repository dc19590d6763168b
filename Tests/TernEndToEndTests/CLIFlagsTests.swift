import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// The flags and commands Cortex users type (issue 12 item 6), against a real server.
    @Suite(.serialized, .sharedServer())
    struct CLIFlags {
        /// `tern ARGS --home home` for a client-only home (no server of its own: every command
        /// here names a remote environment, so none starts one).
        private func client(_ home: URL, _ arguments: String...) throws -> CommandResult {
            try runCommand(TestEnvironment.ternBinary, arguments + ["--home", home.path], environment: ["NO_COLOR": "1"])
        }

        @Test("an unknown command says `unknown command` with the near one and the list, exit 64")
        func unknownCommandNamesTheNearOne() throws {
            let result = try runCommand(TestEnvironment.ternBinary, ["gt"])
            #expect(result.status == 64)
            #expect(result.stderr.hasPrefix("Error: unknown command 'gt' (did you mean 'get'?)\nCommands: deploy, get, describe,"), "stderr: \(result.stderr)")
            let far = try runCommand(TestEnvironment.ternBinary, ["frobnicate"])
            #expect(far.status == 64)
            #expect(far.stderr.hasPrefix("Error: unknown command 'frobnicate'\nCommands:"), "stderr: \(far.stderr)")
        }

        @Test("tern env configure / list / default / delete, and -e on get, describe and predict talk to that server")
        func environmentsTalkToTheirServer() async throws {
            let server = try await sharedServer(withLive: "echo")
            let other = try scratchDirectory(in: server).appendingPathComponent("client-home")
            let url = "http://127.0.0.1:\(server.controlPort)"
            let tokenFile = server.home.appendingPathComponent("token").path

            let unknown = try client(other, "get", "-e", "box")
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("unknown environment 'box' (known: local)"), "stderr: \(unknown.stderr)")

            let wrong = try client(other, "env", "configure", "box", "--url", url, "--token", "not-the-token")
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("cannot reach the Tern server at \(url)"), "stderr: \(wrong.stderr)")

            let configured = try client(other, "env", "configure", "box", "--url", url, "--token-file", tokenFile)
            #expect(configured.status == 0, "stderr: \(configured.stderr)")
            let file = other.appendingPathComponent("environments.json").path
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            let list = try client(other, "get", "-e", "box", "-o", "json")
            #expect(list.status == 0, "stderr: \(list.stderr)")
            let apis = try WireJSON.decoder().decode([APIDocument].self, from: Data(list.stdout.utf8))
            #expect(apis.map(\.name).contains("echo"))

            #expect(try client(other, "env", "default", "box").status == 0)
            let yaml = try client(other, "get", "echo", "-o", "yaml")
            #expect(yaml.status == 0, "stderr: \(yaml.stderr)")
            #expect(yaml.stdout.contains("name: echo\n"), "stdout: \(yaml.stdout)")
            #expect(yaml.stdout.contains("status: live\n"), "stdout: \(yaml.stdout)")

            let environments = try client(other, "env", "list")
            #expect(environments.stdout.contains("box"), "stdout: \(environments.stdout)")
            #expect(environments.stdout.split(separator: "\n").contains { $0.hasPrefix("box") && $0.hasSuffix("*") })

            let payload = other.deletingLastPathComponent().appendingPathComponent("payload.json")
            try #"{"via":"env"}"#.write(to: payload, atomically: true, encoding: .utf8)
            let predicted = try client(other, "predict", "echo", payload.path)
            #expect(predicted.status == 0, "stderr: \(predicted.stderr)")
            #expect(try jsonObject(predicted.stdout)["via"] as? String == "env")

            // A token that stops working says so, with what to do.
            let stale = try client(other, "env", "configure", "stale", "--url", url, "--token", "nope", "--no-verify")
            #expect(stale.status == 0)
            let refused = try client(other, "get", "-e", "stale")
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("environment stale (\(url)) refused its token"), "stderr: \(refused.stderr)")

            #expect(try client(other, "env", "delete", "stale").status == 0)
            #expect(try client(other, "env", "default", "local").status == 0)
            #expect(try client(other, "env", "default").stdout == "local\n")
        }

        @Test("tern describe shows each replica with its latest log lines; -o json has the same")
        func describeShowsReplicas() async throws {
            let server = try await sharedServer(withLive: "echo")
            let replica = try #require(try server.api("echo").replicas.first)
            let text = try server.tern("describe", "echo")
            #expect(text.status == 0, "stderr: \(text.stderr)")
            #expect(text.stdout.contains("\nreplica \(replica.id)\n  revision:  \(replica.revision)\n  state:     ready\n"), "stdout: \(text.stdout)")
            #expect(text.stdout.contains("  latest log lines:"), "stdout: \(text.stdout)")
            let json = try server.tern("describe", "echo", "-o", "json", "--lines", "2")
            let object = try jsonObject(json.stdout)
            let replicas = try #require(object["replicas"] as? [[String: Any]])
            #expect((replicas.first?["replica"] as? [String: Any])?["id"] as? String == replica.id)
            #expect(((replicas.first?["latestLogLines"] as? [String])?.count ?? 99) <= 2)
        }

        @Test("logs --random-pod prints one replica's lines; deploy -f -y, refresh -f and delete -f -c are accepted")
        func cortexFlagsAreAccepted() async throws {
            let server = try await sharedServer(withLive: "echo")
            let replica = try #require(try server.api("echo").replicas.first)
            let logs = try server.tern("logs", "echo", "--random-pod")
            #expect(logs.status == 0, "stderr: \(logs.stderr)")
            #expect(logs.stderr.contains("Logs of replica \(replica.id):"), "stderr: \(logs.stderr)")
            #expect(!logs.stdout.contains(" tern | "), "only the replica's own lines: \(logs.stdout)")
            let config = TestEnvironment.fixture("echo").appendingPathComponent("tern.yaml").path
            let deploy = try server.tern("deploy", config, "-f", "-y", "--timeout", "60")
            #expect(deploy.status == 0, "stderr: \(deploy.stderr)")
            #expect(try server.tern("refresh", "echo", "-f").status == 0)
            let delete = try server.tern("delete", "echo", "-f", "-c")
            #expect(delete.status == 0, "stderr: \(delete.stderr)")
            #expect(delete.stdout == "Deleted echo.\n")
        }
    }
}
