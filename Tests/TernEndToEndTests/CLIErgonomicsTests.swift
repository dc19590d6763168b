import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// Shell completion, colours, `tern version` and `-o table|json|yaml` with the real binary
    /// (issue 14 part 7).
    @Suite(.serialized, .sharedServer())
    struct CLIErgonomics {
        /// `tern ARGUMENTS --home HOME` on a pseudo-terminal (util-linux `script`), with
        /// `environment`; its output as the terminal showed it.
        private func onTerminal(_ server: TestServer, _ arguments: [String], environment: [String: String]) throws -> String {
            let command = ([TestEnvironment.ternBinary] + arguments + ["--home", server.home.path])
                .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            let result = try runCommand("/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment)
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            return result.stdout
        }

        @Test("tern completion bash|zsh|fish prints the shell's script for the tern command tree")
        func completionScripts() throws {
            let bash = try runCommand(TestEnvironment.ternBinary, ["completion", "bash"])
            #expect(bash.status == 0)
            #expect(bash.stdout.contains("_tern()"), "\(bash.stdout.prefix(300))")
            #expect(bash.stdout.contains("complete -o filenames -F _tern tern") || bash.stdout.contains("complete -F _tern tern"))
            #expect(bash.stdout.contains("deploy") && bash.stdout.contains("completion"))
            let zsh = try runCommand(TestEnvironment.ternBinary, ["completion", "zsh"])
            #expect(zsh.status == 0)
            #expect(zsh.stdout.hasPrefix("#compdef tern"), "\(zsh.stdout.prefix(100))")
            #expect(zsh.stdout.contains("_tern()"))
            let fish = try runCommand(TestEnvironment.ternBinary, ["completion", "fish"])
            #expect(fish.status == 0)
            #expect(fish.stdout.contains("complete -c 'tern' -n") && fish.stdout.contains("-fa 'deploy'"), "\(fish.stdout.prefix(300))")
            let unknown = try runCommand(TestEnvironment.ternBinary, ["completion", "tcsh"])
            #expect(unknown.status == 64)
            #expect(unknown.stderr.contains("'tcsh'"), "\(unknown.stderr)")
        }

        @Test("tern get colours the status on a terminal, never with NO_COLOR, nor into a pipe")
        func coloursOnlyOnATerminalWithoutNoColor() async throws {
            let server = try await sharedServer(withLive: "echo")
            let coloured = try onTerminal(server, ["get"], environment: ["NO_COLOR": "", "TERM": "xterm"])
            #expect(coloured.contains("\u{1B}[32mlive\u{1B}[0m"), "\(coloured.debugDescription)")
            let plain = try onTerminal(server, ["get"], environment: ["NO_COLOR": "1", "TERM": "xterm"])
            #expect(plain.contains("echo") && plain.contains("live"), "\(plain)")
            #expect(!plain.contains("\u{1B}"), "\(plain.debugDescription)")
            let dumb = try onTerminal(server, ["get", "echo"], environment: ["NO_COLOR": "", "TERM": "dumb"])
            #expect(dumb.contains("status:    live") && !dumb.contains("\u{1B}"), "\(dumb.debugDescription)")
            let piped = try runCommand(TestEnvironment.ternBinary, ["get", "--home", server.home.path], environment: ["NO_COLOR": ""])
            #expect(piped.status == 0 && piped.stdout.contains("live") && !piped.stdout.contains("\u{1B}"), "\(piped.stdout.debugDescription)")
        }

        @Test("tern version prints the client's and the running server's version; with no server it says so and starts none")
        func versionShowsClientAndServer() async throws {
            let server = try Shared.require()
            let pid = try #require(server.process?.processIdentifier)
            let text = try server.tern("version")
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout == "client: tern \(ternVersion)\nserver: tern \(ternVersion) (http://127.0.0.1:\(server.controlPort), pid \(pid))\n")
            let json = try server.tern("version", "-o", "json")
            let document = try jsonObject(json.stdout)
            #expect(document["client"] as? String == ternVersion)
            let serverPart = try #require(document["server"] as? [String: Any], "\(json.stdout)")
            #expect(serverPart["version"] as? String == ternVersion)
            #expect(serverPart["control_url"] as? String == "http://127.0.0.1:\(server.controlPort)")
            #expect(serverPart["pid"] as? Int == Int(pid))

            let empty = try scratchDirectory(in: server).appendingPathComponent("no-server")
            let alone = try runCommand(TestEnvironment.ternBinary, ["version", "--home", empty.path])
            #expect(alone.status == 0, "\(alone.stderr)")
            #expect(alone.stdout == "client: tern \(ternVersion)\nserver: not running for \(empty.path) (start it with `tern up`)\n")
            #expect(!FileManager.default.fileExists(atPath: empty.appendingPathComponent("server.json").path))
        }

        /// `value` without the keys whose values change from one second to the next.
        static func withoutClockValues(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let members):
                var kept: [String: JSONValue] = [:]
                for (key, member) in members where !["uptime_seconds", "traffic", "cost", "average_in_flight"].contains(key) {
                    kept[key] = withoutClockValues(member)
                }
                return .object(kept)
            case .array(let items): return .array(items.map(withoutClockValues))
            default: return value
            }
        }

        @Test("-o yaml reads back (Yams) to the same values as -o json on every read command")
        func yamlAndJSONAgree() async throws {
            let server = try await sharedServer(withLive: "echo")
            for command in [["get"], ["get", "echo"], ["describe", "echo"], ["jobs"], ["keys", "list"], ["env", "list"], ["version"]] {
                let json = try server.tern(command + ["-o", "json"])
                let yaml = try server.tern(command + ["-o", "yaml"])
                #expect(json.status == 0 && yaml.status == 0, "\(command): \(json.stderr) \(yaml.stderr)")
                // The two commands run a moment apart: values that move with the clock (a
                // replica's uptime, the traffic window) are left out of the comparison.
                let fromJSON = Self.withoutClockValues(try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8)))
                let fromYAML = Self.withoutClockValues(try JSONValue(yaml: yaml.stdout, fileName: "stdout"))
                #expect(fromJSON == fromYAML, "\(command):\n\(json.stdout)\n---\n\(yaml.stdout)")
                #expect(json.stdout != yaml.stdout)
            }
            // The values are the documents': e.g. the API's name and status.
            let one = try JSONValue(yaml: try server.tern("get", "echo", "-o", "yaml").stdout, fileName: "stdout")
            guard case .object(let api) = one else { Issue.record("not an object"); return }
            #expect(api["name"] == .string("echo") && api["status"] == .string("live"))
        }
    }
}
