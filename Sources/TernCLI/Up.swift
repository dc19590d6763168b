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
                Its output goes to TERN_HOME/logs/server.log. Other commands start it on demand, \
                with the options of the last server of the same TERN_HOME (saved in \
                TERN_HOME/server-options.json). When a server already runs, its options stay: \
                `tern up` warns about every option that differs; run `tern down` first to change \
                them.

                Example:
                  tern up --python .venv/bin/python
                """)

        @OptionGroup var global: HomeOption
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let home = global.ternHome
            switch await ServerConnection.state(home: home) {
            case .running(_, let info):
                print("The Tern server is already running (pid \(info.pid), gateway \(info.gatewayURL)).")
                if let running = ServerOptionsFile.load(home: home) {
                    let differences = running.differences(from: options)
                    if !differences.isEmpty {
                        let list = differences.map { "\($0.flag) \($0.mine) (asked: \($0.theirs))" }.joined(separator: ", ")
                        Terminal.standardError.line(
                            "warning: the running server keeps its options: \(list); run `tern down` first to change them")
                    }
                }
                return
            case .unresponsive(let pid, let controlURL):
                throw CLIError(
                    "the Tern server (pid \(pid)) runs for \(home.root) but did not answer at \(controlURL) within 2 s; "
                        + "stop it with `tern down` first")
            case .stopped:
                let (_, info) = try await ServerConnection.start(home: home, arguments: options.arguments)
                print("The Tern server is running (pid \(info.pid)): gateway \(info.gatewayURL), control plane \(info.controlURL).")
            }
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

        @OptionGroup var global: HomeOption

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
