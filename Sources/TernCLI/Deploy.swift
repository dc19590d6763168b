import ArgumentParser
import Foundation
import TernClient
import TernCore

extension Tern {
    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy the APIs of a tern.yaml (or cortex.yaml) and wait until they are live.",
            discussion: """
                Uploads the config file's folder as the project (minus what .ternignore or
                .cortexignore excludes, dot-files and bytecode). An API whose spec and files did
                not change is left as it is.
                Examples:
                  tern deploy
                  tern deploy examples/iris-classifier/tern.yaml --timeout 120
                  tern deploy --no-wait
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Config file, or a folder holding tern.yaml or cortex.yaml.")
        var config: String = "."

        @Flag(inversion: .prefixedNo, help: "Wait until every changed API is live.")
        var wait = true

        @Option(help: "Seconds to wait for the APIs to become live.")
        var timeout = 600

        @Flag(help: "Deploy even while a previous update of the API is still in progress.")
        var force = false

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
            let bundle: Data
            do {
                bundle = try ProjectBundler(directory: projectURL).makeBundle()
            } catch {
                throw CLIError("\(error)")
            }
            let (client, _) = try await ServerConnection.client(home: global.ternHome)
            let output = Terminal.standardOutput
            output.line("Uploading \(projectURL.path) (\(ProjectBundler.formatBytes(Int64(bundle.count))))…")
            let result = try await client.deploy(bundle: bundle, configPath: fileName, force: force)
            for outcome in result.apis {
                switch outcome.action {
                case "unchanged": output.line("\(outcome.name): unchanged (revision \(outcome.revision)); nothing to do")
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
        static func waitUntilLive(_ names: [String], client: TernClient, timeout: Int, output: Terminal) async throws {
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            var lastReport: [String: String] = [:]
            var pending = Set(names)
            while !pending.isEmpty {
                for name in names where pending.contains(name) {
                    let api = try await client.getAPI(name)
                    let report = "\(name): \(api.status.rawValue), \(api.readyReplicas)/\(api.requestedReplicas) replicas ready"
                    if lastReport[name] != report {
                        output.line(report)
                        lastReport[name] = report
                    }
                    if (api.status == .live && api.readyReplicas >= api.requestedReplicas) || api.status == .scaledToZero {
                        pending.remove(name)
                        output.line("\(name) is live at \(api.endpoint)")
                    } else if api.status.rawValue.hasPrefix("error") {
                        throw CLIError("\(name): \(api.status.rawValue): \(api.message ?? "see `tern logs \(name)`")")
                    }
                }
                if pending.isEmpty { break }
                guard Date() < deadline else {
                    throw CLIError(
                        "timed out after \(timeout) s waiting for \(pending.sorted().joined(separator: ", ")); check `tern get` and `tern logs`")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
