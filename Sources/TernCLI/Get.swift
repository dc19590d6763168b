import ArgumentParser
import Foundation
import TernClient
import TernCore

/// Output formats of `get`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

extension Tern {
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show deployed APIs, or one API in detail.",
            discussion: """
                Examples:
                  tern get
                  tern get iris
                  tern get iris -o json
                  tern get --watch
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "An API name; omit to list all.")
        var name: String?

        @Option(name: .shortAndLong, help: "Output format: table or json.")
        var output: OutputFormat = .table

        @Flag(name: .shortAndLong, help: "Refresh every 2 seconds until interrupted.")
        var watch = false

        func run() async throws {
            let (client, _) = try await ServerConnection.client(home: global.ternHome)
            let terminal = Terminal.standardOutput
            repeat {
                let text = try await render(client: client, terminal: terminal)
                if watch && terminal.isTTY { terminal.line("\u{1B}[2J\u{1B}[H" + text) } else { terminal.line(text) }
                if watch { try await Task.sleep(for: .seconds(2)) }
            } while watch
        }

        private func render(client: TernClient, terminal: Terminal) async throws -> String {
            if let name {
                let api = try await client.getAPI(name)
                if output == .json { return try Self.json(api) }
                return Self.detail(api, terminal: terminal)
            }
            let apis = try await client.listAPIs()
            if output == .json { return try Self.json(apis) }
            if apis.isEmpty { return "No APIs are deployed. Deploy one with `tern deploy`." }
            return renderTable(
                header: ["NAME", "STATUS", "REQUESTED", "READY", "IN-FLIGHT", "REVISION", "ENDPOINT"],
                rows: apis.map {
                    [$0.name, $0.status.rawValue, "\($0.requestedReplicas)", "\($0.readyReplicas)", "\($0.inFlight)",
                     "\($0.revision)", $0.endpoint]
                },
                decorate: { index, cell in index == 1 ? terminal.colored(status: cell) : cell })
        }

        static func json(_ value: some Encodable) throws -> String {
            let encoder = WireJSON.encoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        }

        static func detail(_ api: APIDocument, terminal: Terminal) -> String {
            var lines = [
                "name:      \(api.name)",
                "status:    \(terminal.colored(status: api.status.rawValue))",
            ]
            if let message = api.message { lines.append("reason:    \(message)") }
            lines += [
                "endpoint:  \(api.endpoint)",
                "revision:  \(api.revision)",
                "replicas:  \(api.readyReplicas) ready / \(api.requestedReplicas) requested",
                "in-flight: \(api.inFlight) now, \(api.averageInFlight.map { String(format: "%.2f", $0) } ?? "-") average over the autoscaling window",
                "",
            ]
            if api.replicas.isEmpty {
                lines.append("No replicas.")
            } else {
                lines.append(
                    renderTable(
                        header: ["REPLICA", "REVISION", "STATE", "PID", "RESTARTS", "LAST EXIT"],
                        rows: api.replicas.map {
                            [$0.id, "\($0.revision)", $0.state.rawValue, $0.pid.map(String.init) ?? "-", "\($0.restarts)",
                             $0.lastExit ?? "-"]
                        }))
            }
            return lines.joined(separator: "\n")
        }
    }
}
