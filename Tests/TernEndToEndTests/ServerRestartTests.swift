import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif
import TernCore
import TernTesting

extension EndToEnd {
    @Suite(.serialized)
    struct ServerRestart {
        @Test("restarting tern serve with the same home brings deployed APIs back live, answering predictions")
        func restartRestoresAPIs() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            try deployFixture("echo", on: server)
            try deployFixture("version", on: server)
            try await server.waitUntilLive("echo")
            try await server.waitUntilLive("version")
            let oldProcesses = server.descendantPIDs()
            let oldEcho = try server.api("echo")

            #expect(try await server.stop() == 0)
            #expect(await survivors(of: oldProcesses, within: 10).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: server.home.appendingPathComponent("server.json").path))

            try await server.start()
            try await server.waitUntilLive("echo")
            try await server.waitUntilLive("version")

            let echo = try server.api("echo")
            #expect(echo.revision == oldEcho.revision)
            #expect(echo.readyReplicas == 1)
            #expect(echo.replicas.first?.pid != nil)
            #expect(echo.replicas.first?.pid != oldEcho.replicas.first?.pid)

            let answer = try await server.request("/echo", body: Data(#"{"restarted":true}"#.utf8))
            #expect(answer.status == 200)
            #expect(try jsonObject(answer.body)["restarted"] as? Bool == true)
            // The predictor's config survives the restart too.
            let version = try await server.request("/version", body: Data("{}".utf8))
            #expect(version.status == 200)
            #expect(version.body == "v1")

            #expect(try await server.stop() == 0)
        }

        @Test(
            "after tern serve is SIGKILLed (server.json left naming a live pid), the next tern get answers within 10 s and restarts the server on the same ports with the same options"
        )
        func commandAfterKilledServerRestartsItWithItsOptions() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let home = server.home.path
            defer { _ = try? runCommand(TestEnvironment.ternBinary, ["down", "--home", home]) }
            try deployFixture("echo", on: server)
            try await server.waitUntilLive("echo")
            let saved = try String(contentsOfFile: home + "/server-options.json", encoding: .utf8)
            #expect(saved.contains(#""--port","\#(server.port)""#), "\(saved)")
            #expect(saved.contains(#""--python","\#(TestEnvironment.python)""#), "\(saved)")

            let killed = try #require(server.process?.processIdentifier)
            kill(killed, SIGKILL)
            #expect(try await server.waitForExit() == 9)
            // The worst case of a stale server.json: its pid names a live process (a zombie the
            // parent has not reaped, or a reused pid). This test process is such a pid.
            let serverFile = URL(fileURLWithPath: home + "/server.json")
            let stale = try WireJSON.decoder().decode(ServerInfo.self, from: Data(contentsOf: serverFile))
            #expect(stale.pid == killed)
            var reused = stale
            reused.pid = getpid()
            try WireJSON.encoder().encode(reused).write(to: serverFile)

            let started = Date()
            let get = try runCommand(
                TestEnvironment.ternBinary, ["get", "--home", home], environment: ["NO_COLOR": "1", "TERN_PYTHON": "/nonexistent"])
            let elapsed = Date().timeIntervalSince(started)
            #expect(get.status == 0, "\(get.stdout)\(get.stderr)")
            #expect(elapsed < 10, "tern get took \(elapsed) s")
            #expect(get.stderr.contains("Starting the local Tern server in the background with the options of its last start"))
            #expect(get.stderr.contains("--port \(server.port) --control-port \(server.controlPort)"), "\(get.stderr)")
            #expect(get.stdout.contains("echo"), "\(get.stdout)")

            let restarted = try WireJSON.decoder().decode(ServerInfo.self, from: Data(contentsOf: serverFile))
            #expect(restarted.pid != killed && restarted.pid != getpid())
            #expect(restarted.gatewayURL == server.gatewayURL)
            #expect(restarted.controlURL == "http://127.0.0.1:\(server.controlPort)")
            // The saved --python (not $TERN_PYTHON, which names nothing here) runs the replica.
            try await server.waitUntil(timeout: 60, "echo to answer again") {
                (try? await server.request("/echo", body: Data(#"{"back":true}"#.utf8)))?.status == 200
            }
            let answer = try await server.request("/echo", body: Data(#"{"back":true}"#.utf8))
            #expect(try jsonObject(answer.body)["back"] as? Bool == true)

            let down = try runCommand(TestEnvironment.ternBinary, ["down", "--home", home])
            #expect(down.status == 0, "\(down.stderr)")
            #expect(kill(restarted.pid, 0) != 0)
        }

        @Test("a port in use is named at start-up: `port P on 127.0.0.1 is in use; …` for --port and --control-port, exit 1")
        func portInUseIsNamed() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let other = try TestEnvironment.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: other) }
            let free = TestEnvironment.freePort()

            let gateway = try runCommand(
                TestEnvironment.ternBinary,
                ["up", "--home", other.path, "--port", String(server.port), "--control-port", String(free)])
            #expect(gateway.status == 1)
            #expect(
                gateway.stderr.contains(
                    "port \(server.port) on 127.0.0.1 is in use; stop what uses it or start with `tern up --port N`"),
                "\(gateway.stderr)")

            let control = try runCommand(
                TestEnvironment.ternBinary,
                ["up", "--home", other.path, "--port", String(free), "--control-port", String(server.controlPort)])
            #expect(control.status == 1)
            #expect(
                control.stderr.contains(
                    "port \(server.controlPort) on 127.0.0.1 is in use; stop what uses it or start with `tern up --control-port N`"),
                "\(control.stderr)")
            // A start that failed saves no options.
            #expect(!FileManager.default.fileExists(atPath: other.path + "/server-options.json"))
            #expect(try await server.stop() == 0)
        }

        @Test("tern up with other options while a server runs exits 0 and warns naming the running and the asked values")
        func upWithOtherOptionsWarns() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let same = try server.tern("up", "--port", String(server.port), "--control-port", String(server.controlPort),
                "--python", TestEnvironment.python, "--stop-grace-seconds", "3", "--cpus", "64")
            #expect(same.status == 0)
            #expect(same.stdout.contains("already running"), "\(same.stdout)")
            #expect(same.stderr == "", "\(same.stderr)")

            let other = try server.tern("up", "--port", "8888")
            #expect(other.status == 0)
            #expect(other.stdout.contains("already running (pid \(server.process?.processIdentifier ?? 0), gateway \(server.gatewayURL))"))
            #expect(other.stderr.contains("warning: the running server keeps its options: --port \(server.port) (asked: 8888)"), "\(other.stderr)")
            #expect(other.stderr.contains("--control-port \(server.controlPort) (asked: 8889)"), "\(other.stderr)")
            #expect(other.stderr.contains("run `tern down` first to change them"), "\(other.stderr)")
            #expect(try await server.stop() == 0)
        }
    }
}
