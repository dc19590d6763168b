import ArgumentParser
import Foundation
import NIOCore
import TernClient
import TernCore

extension Tern {
    /// `tern version`: this client's version and, when one answers, its server's (`/v1/info`);
    /// never starts a server.
    struct Version: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the versions of this tern and of its server.",
            discussion: """
                The server is the one `tern get` talks to (-e/--env, else the default \
                environment, else this machine's); it is not started when it is not running. \
                `tern --version` prints the client's version alone.

                Examples:
                  tern version
                  tern version -o json
                """)

        @OptionGroup var global: GlobalOptions

        @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
        var output: OutputFormat = .table

        /// The server's side of `-o json|yaml`.
        struct Server: Codable, Equatable {
            var version: String
            var controlURL: String
            var pid: Int32

            enum CodingKeys: String, CodingKey {
                case version, pid
                case controlURL = "control_url"
            }
        }

        /// The document of `-o json|yaml`: `server` when it answered, else `server_error` (why not).
        struct Versions: Codable, Equatable {
            var client: String
            var server: Server?
            var serverError: String?

            enum CodingKeys: String, CodingKey {
                case client, server
                case serverError = "server_error"
            }
        }

        func run() async throws {
            var versions = Versions(client: ternVersion)
            do {
                let info = try await serverInfo()
                versions.server = Server(version: info.version, controlURL: info.controlURL, pid: info.pid)
            } catch {
                versions.serverError = "\(error)"
            }
            if output != .table { return Terminal.standardOutput.line(try output.encoded(versions)) }
            Terminal.standardOutput.line(Self.text(versions))
        }

        /// `client: tern 0.1.0`, then `server: tern 0.1.0 (URL, pid N)` or `server: ` and why none.
        static func text(_ versions: Versions) -> String {
            let server = versions.server.map { "tern \($0.version) (\($0.controlURL), pid \($0.pid))" }
            return "client: tern \(versions.client)\nserver: \(server ?? versions.serverError ?? "unknown")"
        }

        /// `/v1/info` of the chosen environment's server; for `local`, only when one runs.
        /// - Throws: ``CLIError`` when no local server runs, or the remote one does not answer.
        private func serverInfo() async throws -> ServerInfo {
            let (_, remote) = try CLIEnvironments.load(home: global.ternHome).resolve(global.env)
            guard remote != nil else {
                guard let (_, info) = await ServerConnection.running(home: global.ternHome) else {
                    throw CLIError("not running for \(global.ternHome.root) (start it with `tern up`)")
                }
                return info
            }
            return try await global.client().info(timeout: .seconds(10))
        }
    }
}
