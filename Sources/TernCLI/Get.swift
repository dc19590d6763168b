import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TernClient
import TernCore

extension Tern {
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show deployed APIs, or one API in detail.",
            discussion: """
                Examples:
                  tern get
                  tern get iris
                  tern get iris -o json
                  tern get -o yaml -e prod
                  tern get iris-split     (a TrafficSplitter: its targets and their status)
                  tern get --watch
                  tern get digits 0193a1b2c3d4e5f6     (a job of a BatchAPI or TaskAPI: progress, ETA)
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "An API name; omit to list all.")
        var name: String?

        @Argument(help: "A job id of the API (a BatchAPI or TaskAPI).")
        var job: String?

        @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
        var output: OutputFormat = .table

        @Flag(name: .shortAndLong, help: "Refresh every 2 seconds until interrupted (a job: every second until it ends).")
        var watch = false

        func run() async throws {
            let client = try await global.client()
            let terminal = Terminal.standardOutput
            if watch, let name, let job, output == .table {
                _ = try await JobView.watch(client: client, api: name, id: job)  // ends with the job
                return
            }
            repeat {
                let text = try await render(client: client, terminal: terminal)
                if watch && terminal.isTTY { terminal.line("\u{1B}[2J\u{1B}[H" + text) } else { terminal.line(text) }
                if watch { try await Task.sleep(for: .seconds(2)) }
            } while watch
        }

        private func render(client: TernClient, terminal: Terminal) async throws -> String {
            if let name, let job {
                let document = try await client.getJob(name, id: job)
                if output != .table { return try output.encoded(document) }
                return JobView.detail(document)
            }
            if let name {
                let api = try await client.getAPI(name)
                if output != .table { return try output.encoded(api) }
                if let targets = api.trafficSplit {
                    var statuses: [String: APIStatus] = [:]
                    for target in targets {
                        statuses[target.name] = try? await client.getAPI(target.name).status
                    }
                    return Self.splitterDetail(api, targets: targets, statuses: statuses, terminal: terminal)
                }
                if APIKind(rawValue: api.kind)?.runsJobs == true {
                    let jobs = try await client.listJobs(name)
                    return Self.detail(api, terminal: terminal) + "\n\n"
                        + (jobs.isEmpty ? "No jobs yet; submit one with `tern submit \(name) job.json`." : JobView.table(jobs, withAPI: false))
                }
                return Self.detail(api, terminal: terminal)
            }
            let apis = try await client.listAPIs()
            if output != .table { return try output.encoded(apis) }
            if apis.isEmpty { return "No APIs are deployed. Deploy one with `tern deploy`." }
            // TrafficSplitters get their own table below the APIs with replicas, as in `cortex get`.
            let splitters = apis.filter { $0.trafficSplit != nil }
            let others = apis.filter { $0.trafficSplit == nil }
            var tables: [String] = []
            if !others.isEmpty {
                let withCost = others.contains { $0.cost != nil }
                let now = Date()
                tables.append(
                    renderTable(
                        header: TrafficFormat.header(withCost: withCost),
                        rows: others.map { TrafficFormat.row($0, withCost: withCost, now: now) },
                        decorate: { index, cell in index == 1 ? terminal.colored(status: APIStatus(rawValue: cell)) : cell }))
            }
            if !splitters.isEmpty {
                tables.append(Self.splitterTable(splitters, terminal: terminal))
            }
            return tables.joined(separator: "\n\n")
        }

        /// The TrafficSplitters of `tern get`: kind, status, targets as `name:weight`, revision, endpoint.
        static func splitterTable(_ splitters: [APIDocument], terminal: Terminal) -> String {
            renderTable(
                header: ["TRAFFIC SPLITTER", "STATUS", "TARGETS", "REVISION", "ENDPOINT"],
                rows: splitters.map { api in
                    [api.name, api.status.rawValue, targetsText(api.trafficSplit ?? []), "\(api.revision)", api.endpoint]
                },
                decorate: { index, cell in index == 1 ? terminal.colored(status: APIStatus(rawValue: cell)) : cell })
        }

        /// Targets as `a:80 b:20`; a shadow is marked `c:10(shadow)`.
        static func targetsText(_ targets: [TrafficTarget]) -> String {
            targets.map { "\($0.name):\($0.weight)" + ($0.shadow ? "(shadow)" : "") }.joined(separator: " ")
        }

        /// `tern get SPLITTER`: the splitter, then one row per target with its weight and status.
        static func splitterDetail(
            _ api: APIDocument, targets: [TrafficTarget], statuses: [String: APIStatus], terminal: Terminal
        ) -> String {
            var lines = [
                "name:      \(api.name)",
                "kind:      \(api.kind)",
                "status:    \(terminal.colored(status: api.status))",
            ]
            if let message = api.message { lines.append("reason:    \(message)") }
            lines += [
                "endpoint:  \(api.endpoint)",
                "revision:  \(api.revision)",
                "",
                renderTable(
                    header: ["API", "WEIGHT", "SHADOW", "STATUS"],
                    rows: targets.map {
                        [$0.name, "\($0.weight)%", $0.shadow ? "yes" : "no", statuses[$0.name]?.rawValue ?? "not deployed"]
                    },
                    decorate: { index, cell in index == 3 ? terminal.colored(status: APIStatus(rawValue: cell)) : cell }),
            ]
            return lines.joined(separator: "\n")
        }

        static func detail(_ api: APIDocument, terminal: Terminal) -> String {
            var lines = [
                "name:      \(api.name)",
                "status:    \(terminal.colored(status: api.status))",
            ]
            if let message = api.message { lines.append("reason:    \(message)") }
            lines += [
                "endpoint:  \(api.endpoint)",
                "revision:  \(api.revision)",
            ]
            switch APIKind(rawValue: api.kind) {
            case .batchAPI?, .taskAPI?:
                // Workers start with each job; the jobs table follows.
                return (lines + ["kind:      \(api.kind) (workers start with each job)"]).joined(separator: "\n")
            case .asyncAPI?:
                return (lines + [
                    "workers:   \(api.readyReplicas) ready / \(api.requestedReplicas) requested",
                    "queue:     \(api.inFlight) requests queued or in progress",
                ]).joined(separator: "\n")
            default: break
            }
            let upToDate = api.upToDateReplicas.map { ", \($0) up to date" } ?? ""
            lines += [
                "replicas:  \(api.readyReplicas) ready / \(api.requestedReplicas) requested\(upToDate)",
                "in-flight: \(api.inFlight) now, \(api.averageInFlight.map { String(format: "%.2f", $0) } ?? "-") average over the autoscaling window",
            ]
            lines += TrafficFormat.detailLines(api)
            lines.append("")
            if api.replicas.isEmpty {
                lines.append("No replicas.")
            } else {
                lines.append(
                    renderTable(
                        header: ["REPLICA", "REVISION", "STATE", "PID", "UPTIME", "IN-FLIGHT", "RESTARTS", "LAST EXIT"],
                        rows: api.replicas.map {
                            [$0.id, "\($0.revision)", $0.state.rawValue, $0.pid.map(String.init) ?? "-",
                             TrafficFormat.uptime($0.uptimeSeconds), $0.inFlight.map(String.init) ?? "-", "\($0.restarts)",
                             $0.lastExit ?? "-"]
                        }))
            }
            if let predictions = api.predictions {
                lines.append("")
                lines += TrafficFormat.predictionLines(predictions)
            }
            return lines.joined(separator: "\n")
        }
    }
}

extension Tern {
    /// `tern describe API`: the API's detail, then each replica with its state and its latest
    /// log lines (Cortex's `cortex describe`).
    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an API and each of its replicas in detail, with their latest log lines.",
            discussion: """
                Examples:
                  tern describe iris
                  tern describe iris --lines 10
                  tern describe iris -o json
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Option(help: "Latest log lines shown per replica (0 for none).")
        var lines = 5

        @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
        var output: OutputFormat = .table

        func validate() throws {
            guard (0...1000).contains(lines) else { throw ValidationError("--lines must be between 0 and 1000 (got \(lines))") }
        }

        /// One replica with its latest log lines, for `-o json|yaml`.
        struct ReplicaDetail: Encodable {
            var replica: ReplicaDocument
            var latestLogLines: [String]
        }

        /// The API with its replicas in detail, for `-o json|yaml`.
        struct Description: Encodable {
            var api: APIDocument
            var replicas: [ReplicaDetail]
        }

        func run() async throws {
            let client = try await global.client()
            let api = try await client.getAPI(name)
            var details: [ReplicaDetail] = []
            for replica in api.replicas {
                var text = ""
                if lines > 0 {
                    for try await chunk in try await client.logs(name, follow: false, tail: lines, replica: replica.id) {
                        text += String(buffer: chunk)
                    }
                }
                details.append(ReplicaDetail(replica: replica, latestLogLines: text.split(separator: "\n").map(String.init)))
            }
            let terminal = Terminal.standardOutput
            if output != .table {
                terminal.line(try output.encoded(Description(api: api, replicas: details)))
                return
            }
            var blocks = [Get.detail(api, terminal: terminal)]
            for detail in details {
                let replica = detail.replica
                var block = [
                    "replica \(replica.id)",
                    "  revision:  \(replica.revision)",
                    "  state:     \(replica.state.rawValue)",
                    "  pid:       \(replica.pid.map(String.init) ?? "-")",
                    "  restarts:  \(replica.restarts)",
                    "  last exit: \(replica.lastExit ?? "-")",
                ]
                if lines > 0 {
                    block.append("  latest log lines:")
                    block += detail.latestLogLines.isEmpty ? ["    (none)"] : detail.latestLogLines.map { "    " + $0 }
                }
                blocks.append(block.joined(separator: "\n"))
            }
            terminal.line(blocks.joined(separator: "\n\n"))
        }
    }
}
