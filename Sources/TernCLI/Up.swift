import ArgumentParser
import Foundation
import TernCore

#if canImport(Glibc)
import Glibc
#endif

extension Tern {
    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the local Tern server in the background.",
            discussion: """
                Its output goes to TERN_HOME/logs/server.log. Other commands start it on demand.
                Example:
                  tern up --python .venv/bin/python
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let home = global.ternHome
            if let (_, info) = await ServerConnection.running(home: home) {
                print("The Tern server is already running (pid \(info.pid), gateway \(info.gatewayURL)).")
                return
            }
            try await ServerConnection.start(home: home, arguments: options.arguments)
            guard let (_, info) = await ServerConnection.running(home: home) else {
                throw CLIError("the Tern server did not start; see \(home.serverLog)")
            }
            print("The Tern server is running (pid \(info.pid)): gateway \(info.gatewayURL), control plane \(info.controlURL).")
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the local Tern server and every replica it runs.",
            discussion: """
                In-flight requests finish first. Deployed APIs come back on the next start.
                Example:
                  tern down
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "Seconds to wait for a graceful stop before killing the server.")
        var timeout = 60

        func run() async throws {
            let home = global.ternHome
            guard let data = FileManager.default.contents(atPath: home.serverFile),
                let info = try? WireJSON.decoder().decode(ServerInfo.self, from: data), kill(info.pid, 0) == 0
            else {
                print("No Tern server is running for \(home.root).")
                return
            }
            kill(info.pid, SIGTERM)
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while kill(info.pid, 0) == 0 && Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            if kill(info.pid, 0) == 0 {
                kill(info.pid, SIGKILL)
                throw CLIError("the server (pid \(info.pid)) did not stop within \(timeout) s and was killed")
            }
            print("The Tern server stopped.")
        }
    }
}
