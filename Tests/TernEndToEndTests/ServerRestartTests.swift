import Foundation
import Testing
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
    }
}
