import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// The gateway's and the control plane's answers outside the happy path.
    @Suite(.serialized, .sharedServer())
    struct GatewayAndControlPlane {
        private func deployedEcho() async throws -> TestServer {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            return server
        }

        /// `GET <control>/v1/apis` with an optional `Authorization` header.
        private func listAPIs(_ server: TestServer, authorization: String?) async throws -> (status: Int, body: String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.controlPort)/v1/apis")
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        @Test("an unknown endpoint answers 404 with a JSON error")
        func unknownEndpointIs404() async throws {
            let server = try await deployedEcho()
            for method in ["POST", "GET"] {
                let response = try await server.request("/no-such-api", method: method, body: Data("{}".utf8))
                #expect(response.status == 404)
                #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
                let error = try errorObject(response.body)
                #expect(error["kind"] as? String == "not_found")
                #expect((error["message"] as? String)?.contains("/no-such-api") == true)
            }
        }

        @Test("a method other than GET and POST on an endpoint answers 405 with Allow")
        func otherMethodIs405() async throws {
            let server = try await deployedEcho()
            let response = try await server.request("/echo", method: "PUT", body: Data("{}".utf8))
            #expect(response.status == 405)
            #expect(response.headers["allow"] == "GET, POST")
            #expect(try errorObject(response.body)["kind"] as? String == "method_not_allowed")
        }

        @Test("the control-plane API answers 401 without the bearer token or with a wrong one, 200 with it")
        func controlPlaneRequiresTheToken() async throws {
            let server = try await deployedEcho()
            for authorization in [nil, "Bearer wrong", "Basic abc"] {
                let response = try await listAPIs(server, authorization: authorization)
                #expect(response.status == 401, "Authorization: \(authorization ?? "none")")
                #expect(try errorObject(response.body)["kind"] as? String == "unauthorized")
                #expect(!response.body.contains("\"echo\""))
            }
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let authorized = try await listAPIs(server, authorization: "Bearer \(token)")
            #expect(authorized.status == 200)
            let apis = try #require(try JSONSerialization.jsonObject(with: Data(authorized.body.utf8)) as? [[String: Any]])
            #expect(apis.contains { $0["name"] as? String == "echo" })
        }

        @Test("the token file is readable by its owner only (mode 0600)")
        func tokenFileIsPrivate() throws {
            let server = try Shared.require()
            let path = server.home.appendingPathComponent("token").path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = try #require(attributes[.posixPermissions] as? NSNumber).intValue
            #expect(mode & 0o777 == 0o600, "mode \(String(mode, radix: 8))")
            let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.count >= 32)
        }

        @Test("tern predict NAME file.json prints the API's answer")
        func ternPredictPrintsTheAnswer() async throws {
            let server = try await deployedEcho()
            let file = try scratchDirectory(in: server).appendingPathComponent("payload.json")
            try #"{"x": [1, 2], "y": "z"}"#.write(to: file, atomically: true, encoding: .utf8)
            let result = try server.tern("predict", "echo", file.path)
            #expect(result.status == 0, "\(result.stderr)")
            let answer = try jsonObject(result.stdout)
            #expect(answer["x"] as? [Int] == [1, 2])
            #expect(answer["y"] as? String == "z")
        }

        @Test("tern get NAME -o json prints URLs without escaped slashes")
        func jsonOutputKeepsSlashes() async throws {
            let server = try await deployedEcho()
            let result = try server.tern("get", "echo", "-o", "json")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(#""endpoint" : "\#(server.gatewayURL)/echo""#), "\(result.stdout)")
            #expect(!result.stdout.contains(#"\/"#), "\(result.stdout)")
        }

        @Test("tern predict of an unknown API exits non-zero saying it is not deployed")
        func ternPredictUnknownAPIFails() async throws {
            let server = try Shared.require()
            let file = try scratchDirectory(in: server).appendingPathComponent("payload.json")
            try "{}".write(to: file, atomically: true, encoding: .utf8)
            let result = try server.tern("predict", "no-such-api", file.path)
            #expect(result.status != 0)
            #expect(result.stderr.contains("not deployed"), "stderr: \(result.stderr)")
        }
    }

    /// `tern serve --max-body-bytes 1000`.
    @Suite(.serialized, .sharedServer("--max-body-bytes", "1000"))
    struct BodyLimit {
        /// A JSON object of exactly `size` bytes.
        private func payload(size: Int) -> Data {
            let skeleton = #"{"pad":""}"#
            return Data((#"{"pad":""# + String(repeating: "x", count: size - skeleton.utf8.count) + #""}"#).utf8)
        }

        @Test("a body over the limit answers 413 payload_too_large; one at the limit is served")
        func bodyOverTheLimitIs413() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")

            let atLimit = try await server.request("/echo", body: payload(size: 1000))
            #expect(atLimit.status == 200)
            #expect((try jsonObject(atLimit.body)["pad"] as? String)?.count == 1000 - 10)

            let over = try await server.request("/echo", body: payload(size: 1001))
            #expect(over.status == 413)
            let error = try errorObject(over.body)
            #expect(error["kind"] as? String == "payload_too_large")
            #expect(error["api"] as? String == "echo")
        }

        @Test("the 413 says Connection: close and the connection closes: a request pipelined behind it is not served")
        func answerWithConnectionCloseEndsTheConnection() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let connection = try RawHTTPConnection(port: server.port)
            defer { connection.close() }
            let body = String(data: payload(size: 5000), encoding: .utf8)!
            try connection.send(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n\(body)"
                    + "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            let answer = try connection.readResponse()
            #expect(answer.status == 413)
            #expect(answer.headers["connection"] == "close")
            #expect(try connection.readUntilClosed(timeout: 5) == "")
        }

        @Test("a streamed body (no Content-Length) over the limit answers 413")
        func streamedBodyOverTheLimitIs413() async throws {
            let server = try Shared.require()
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            var request = HTTPClientRequest(url: server.gatewayURL + "/echo")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            let chunks = AsyncStream<ByteBuffer> { continuation in
                for _ in 0..<4 { continuation.yield(ByteBuffer(repeating: UInt8(ascii: "a"), count: 400)) }
                continuation.finish()
            }
            request.body = .stream(chunks, length: .unknown)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 413)
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(try errorObject(body)["kind"] as? String == "payload_too_large")
        }
    }

    /// Commands that need no server.
    @Suite(.serialized)
    struct CLIBasics {
        @Test("tern version prints `client: tern 0.1.0` (and that no server runs); --version the bare version")
        func versionPrintsTheVersion() throws {
            let home = try TestEnvironment.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: home) }
            let result = try runCommand(TestEnvironment.ternBinary, ["version", "--home", home.path])
            #expect(result.status == 0)
            #expect(result.stdout == "client: tern 0.1.0\nserver: not running for \(home.path) (start it with `tern up`)\n")
            #expect(try runCommand(TestEnvironment.ternBinary, ["--version"]).stdout == "0.1.0\n")
        }

        @Test("tern predict with a missing file or a directory says why (no such file, is a directory) and exits 1")
        func predictUnreadableFileSaysWhy() throws {
            let home = try TestEnvironment.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: home) }
            let missing = home.appendingPathComponent("nonexistent.json").path
            let noFile = try runCommand(TestEnvironment.ternBinary, ["predict", "iris", missing, "--home", home.path])
            #expect(noFile.status == 1)
            #expect(noFile.stderr == "Error: cannot read \(missing): no such file\n", "\(noFile.stderr)")
            let folder = try runCommand(TestEnvironment.ternBinary, ["predict", "iris", home.path, "--home", home.path])
            #expect(folder.status == 1)
            #expect(
                folder.stderr == "Error: cannot read \(home.path): is a directory; give a file holding the request body\n",
                "\(folder.stderr)")
            // Read before any server is looked for: none was started.
            #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("server.json").path))
        }

        @Test("a tern.yaml nested deeper than libyaml's limit is refused with a readable message naming the line")
        func deepNestingIsReadable() throws {
            let project = try TestEnvironment.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: project) }
            let yaml = "- name: a\n  predictor: " + String(repeating: "[", count: 1100) + String(repeating: "]", count: 1100) + "\n"
            try yaml.write(to: project.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            let result = try runCommand(TestEnvironment.ternBinary, ["deploy", project.path, "--home", project.path])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains(
                    "tern.yaml:2: YAML syntax error: the file nests lists or mappings more than 1,000 levels deep (libyaml's limit)"),
                "\(result.stderr)")
            #expect(!result.stderr.contains("yaml_set_max_nest_level"))
        }

        @Test("no --help text breaks a line inside a sentence: every line of prose ends a sentence, a list item or is wrapped by ArgumentParser (79 columns)")
        func helpHasNoHardBreaksInSentences() throws {
            let help = try runCommand(TestEnvironment.ternBinary, ["--help"]).stdout
            let section = help.components(separatedBy: "SUBCOMMANDS:").last ?? ""
            let commands = section.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
                return line.split(separator: " ").first.map(String.init)
            }.filter { $0.allSatisfy { $0.isLowercase || $0 == "-" } }
            for command in [[]] + commands.map({ [$0] }) {
                let text = try runCommand(TestEnvironment.ternBinary, command + ["--help"]).stdout
                let discussion = text.components(separatedBy: "USAGE:").first ?? ""
                let lines = discussion.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                for (line, next) in zip(lines, lines.dropFirst())
                where !line.hasPrefix(" ") && !line.isEmpty && !next.isEmpty && !next.hasPrefix(" ") {
                    // A prose line followed by more prose was wrapped by ArgumentParser: it is
                    // long enough that the next word would not have fitted in 79 columns.
                    let nextWord = next.split(separator: " ").first.map(String.init) ?? ""
                    #expect(
                        line.count + 1 + nextWord.count >= 80,
                        "tern \(command.joined()) --help breaks after \"\(line)\" (next: \"\(next)\")")
                }
            }
        }

        @Test("tern --help exits 0 and shows an example")
        func topLevelHelpHasAnExample() throws {
            let result = try runCommand(TestEnvironment.ternBinary, ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("Example"), "tern --help:\n\(result.stdout)")
        }

        @Test("tern deploy --help and every other subcommand's --help exit 0 and show an example")
        func subcommandHelpHasAnExample() throws {
            // The subcommands listed by `tern --help` (indented two spaces under SUBCOMMANDS:).
            let help = try runCommand(TestEnvironment.ternBinary, ["--help"]).stdout
            let section = help.components(separatedBy: "SUBCOMMANDS:").last ?? ""
            let commands = section.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
                return line.split(separator: " ").first.map(String.init)
            }.filter { $0.allSatisfy { $0.isLowercase || $0 == "-" } }
            #expect(commands.contains("deploy") && commands.contains("version"), "parsed \(commands) from:\n\(help)")
            for command in commands {
                let result = try runCommand(TestEnvironment.ternBinary, [command, "--help"])
                #expect(result.status == 0, "tern \(command) --help exited \(result.status)")
                #expect(result.stdout.contains("Example"), "tern \(command) --help:\n\(result.stdout)")
            }
        }
    }
}
