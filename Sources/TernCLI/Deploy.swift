import ArgumentParser
import Foundation
import TernClient
import TernCore

#if canImport(Glibc)
import Glibc
#endif

extension Tern {
    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy the APIs of a tern.yaml (or cortex.yaml) and wait until they are live.",
            discussion: """
                Uploads the config file's folder as the project (minus what .ternignore or \
                .cortexignore excludes, dot-files and bytecode). An API whose spec and files did \
                not change is left as it is.

                Examples:
                  tern deploy
                  tern deploy examples/iris-classifier/tern.yaml --timeout 120
                  tern deploy --no-wait
                  tern deploy -e prod -f
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Config file, or a folder holding tern.yaml or cortex.yaml.")
        var config: String = "."

        @Flag(inversion: .prefixedNo, help: "Wait until every changed API is live.")
        var wait = true

        @Option(help: "Seconds to wait for the APIs to become live (time installing requirements.txt is not counted).")
        var timeout = 600

        @Flag(name: .shortAndLong, help: "Deploy even while a previous update of the API is still in progress, or when the file changes a deployed API's kind (RealtimeAPI ↔ TrafficSplitter).")
        var force = false

        @Flag(name: .shortAndLong, help: "Answer yes to prompts (Tern asks none; accepted for Cortex scripts).")
        var yes = false

        func run() async throws {
            let configURL = try Self.locateConfig(config)
            let projectURL = configURL.deletingLastPathComponent()
            let fileName = configURL.lastPathComponent
            let project: ProjectConfig
            do {
                project = try ConfigLoader.load(fileAt: configURL)
            } catch {
                throw CLIError("\(fileName) is not valid:\n\(error.description)")
            }
            for warning in project.warnings {
                Terminal.standardError.line("warning: \(warning)")
            }
            let bundle: Data
            do {
                bundle = try ProjectBundler(directory: projectURL).makeBundle()
            } catch {
                throw CLIError("\(error)")
            }
            let client = try await global.client()
            let output = Terminal.standardOutput
            output.line("Uploading \(projectURL.path) (\(ProjectBundler.formatBytes(Int64(bundle.count))))…")
            let result = try await client.deploy(bundle: bundle, configPath: fileName, force: force)
            for outcome in result.apis {
                switch outcome.action {
                case .unchanged: output.line("\(outcome.name): unchanged (revision \(outcome.revision)); nothing to do")
                default: output.line("\(outcome.name): \(outcome.action) (revision \(outcome.revision))")
                }
            }
            // Unchanged APIs are waited on too: a redeploy of a failing API must not report success.
            guard wait, !project.apis.isEmpty else { return }
            try await Self.waitUntilLive(result.apis.map(\.name), client: client, timeout: timeout, output: output)
        }

        /// Resolves the argument to a config file path.
        static func locateConfig(_ argument: String) throws -> URL {
            let url = URL(fileURLWithPath: argument).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw CLIError("\(argument) does not exist; pass a tern.yaml or the folder that holds it")
            }
            guard isDirectory.boolValue else { return url }
            for name in ["tern.yaml", "cortex.yaml"] {
                let candidate = url.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            }
            throw CLIError("no tern.yaml or cortex.yaml in \(url.path); pass the config file's path")
        }

        /// Polls until every API is live; fails on an error status or the timeout.
        ///
        /// While an API installs its `requirements.txt` (phase ``APIPhase/installingDependencies``),
        /// its message is shown, as one live line on a terminal and
        /// otherwise as a plain line when the install starts and every 10 s, and that time does not count
        /// towards `timeout` (pip's own network timeouts bound it).
        static func waitUntilLive(_ names: [String], client: TernClient, timeout: Int, output: Terminal) async throws {
            var deadline = Date().addingTimeInterval(TimeInterval(timeout))
            var lastPoll = Date()
            var progress = DeployProgress(isTTY: output.isTTY)
            var pending = Set(names)
            while !pending.isEmpty {
                var installing = false
                for name in names where pending.contains(name) {
                    let api = try await client.getAPI(name)
                    installing = installing || DeployProgress.isInstalling(api)
                    if let line = progress.report(api, now: Date()) { output.writeRaw(progress.render(line)) }
                    if (api.status == .live && api.readyReplicas >= api.requestedReplicas) || api.status == .scaledToZero {
                        pending.remove(name)
                        output.writeRaw(progress.render(.line("\(name) is live at \(api.endpoint)")))
                    } else if api.status.isError {
                        output.writeRaw(progress.finish())
                        throw CLIError("\(name): \(api.status.rawValue): \(api.message ?? "see `tern logs \(name)`")")
                    }
                }
                let now = Date()
                if installing { deadline += now.timeIntervalSince(lastPoll) }
                lastPoll = now
                if pending.isEmpty { break }
                guard now < deadline else {
                    output.writeRaw(progress.finish())
                    throw CLIError(
                        "timed out after \(timeout) s waiting for \(pending.sorted().joined(separator: ", ")); check `tern get` and `tern logs`")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

/// What `tern deploy` prints while it waits (pure): one line per change of an API's status and
/// ready count; while an API installs its `requirements.txt`, its message too, rewritten in place
/// on a terminal and otherwise repeated every ``plainInterval`` seconds.
struct DeployProgress {
    /// One piece of output.
    enum Output: Equatable {
        /// A complete line.
        case line(String)
        /// A line that the next output replaces (terminal only).
        case live(String)
    }

    /// Seconds between repeated plain lines of an install in progress.
    static let plainInterval: TimeInterval = 10

    let isTTY: Bool
    /// The live line on screen (written without its newline), if any.
    private var liveLine: String?
    private var lastReport: [String: String] = [:]
    private var lastInstallLine: [String: Date] = [:]

    /// Progress for a terminal (`isTTY`) or for plain output.
    init(isTTY: Bool) {
        self.isTTY = isTTY
    }

    /// Whether `api` is installing its `requirements.txt` (its phase says so).
    static func isInstalling(_ api: APIDocument) -> Bool {
        api.phase == .installingDependencies
    }

    /// The output for this poll of `api`, if any.
    mutating func report(_ api: APIDocument, now: Date) -> Output? {
        let summary: String
        switch APIKind(rawValue: api.kind) {
        case .batchAPI?, .taskAPI?: summary = "\(api.name): \(api.status.rawValue), takes jobs (`tern submit \(api.name) job.json`)"
        case .asyncAPI?: summary = "\(api.name): \(api.status.rawValue), \(api.readyReplicas)/\(api.requestedReplicas) workers ready"
        default: summary = "\(api.name): \(api.status.rawValue), \(api.readyReplicas)/\(api.requestedReplicas) replicas ready"
        }
        guard Self.isInstalling(api), let message = api.message else {
            lastInstallLine[api.name] = nil
            guard lastReport[api.name] != summary else { return nil }
            lastReport[api.name] = summary
            return .line(summary)
        }
        let text = "\(api.name): \(message)"
        if isTTY { return .live(text) }
        // Plain output: when the install starts, then every `plainInterval` seconds.
        if let last = lastInstallLine[api.name], now.timeIntervalSince(last) < Self.plainInterval { return nil }
        lastInstallLine[api.name] = now
        lastReport[api.name] = nil
        return .line(text)
    }

    /// The text that writes `output`: a live line is drawn over the previous one (`\r`, clear
    /// to end of line) and left without its newline; a complete line first ends a live line.
    mutating func render(_ output: Output) -> String {
        switch output {
        case .live(let text):
            guard text != liveLine else { return "" }
            defer { liveLine = text }
            return (liveLine == nil ? "" : "\r\u{1B}[K") + text
        case .line(let text):
            defer { liveLine = nil }
            return (liveLine == nil ? "" : "\n") + text + "\n"
        }
    }

    /// The text that ends a live line, if one is showing (before an error message).
    mutating func finish() -> String {
        defer { liveLine = nil }
        return liveLine == nil ? "" : "\n"
    }
}

extension Terminal {
    /// Writes `text` as is (no newline added).
    func writeRaw(_ text: String) {
        let data = Data(text.utf8)
        data.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
