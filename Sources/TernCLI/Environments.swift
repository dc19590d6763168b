import ArgumentParser
import Foundation
import NIOCore
import TernClient
import TernCore

/// The servers the CLI can talk to, by name, as Cortex's environments: `local` (built in: the
/// server of this `TERN_HOME`, started on demand) and any configured with `tern env configure`
/// (a control-plane URL and its bearer token). Stored in `TERN_HOME/environments.json`,
/// mode 0600 since it holds tokens.
struct CLIEnvironments: Codable, Equatable {
    /// A configured server.
    struct Environment: Codable, Equatable {
        /// The control-plane URL, e.g. `http://10.0.0.5:8889`.
        var url: String
        /// Its bearer token (`TERN_HOME/token` on that server).
        var token: String
        /// A PEM file of certificates to trust for it besides the system's roots (a server with a
        /// self-signed certificate); nil: the system's roots only.
        var caFile: String?
    }

    /// The name of the built-in environment.
    static let local = "local"

    /// The environment commands use without `-e`; nil means ``local``.
    var defaultEnvironment: String?
    /// Configured environments by name (never ``local``).
    var environments: [String: Environment] = [:]

    /// The file of `home`.
    static func path(home: TernHome) -> String { home.root + "/environments.json" }

    /// Reads the file of `home`; none yet gives only `local`.
    /// - Throws: ``CLIError`` when the file exists but cannot be read as environments.
    static func load(home: TernHome) throws -> CLIEnvironments {
        let path = path(home: home)
        guard let data = FileManager.default.contents(atPath: path) else { return CLIEnvironments() }
        do {
            return try JSONDecoder().decode(CLIEnvironments.self, from: data)
        } catch {
            throw CLIError("cannot read \(path): \(error); fix or remove the file, then `tern env configure` again")
        }
    }

    /// Writes the file of `home` with mode 0600.
    func save(home: TernHome) throws {
        try FileManager.default.createDirectory(atPath: home.root, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = Self.path(home: home)
        guard FileManager.default.createFile(atPath: path, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("cannot write \(path)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    /// The environment named `name`, or the default when nil: nil for ``local``.
    /// - Throws: ``CLIError`` naming the known environments when `name` is not one.
    func resolve(_ name: String?) throws -> (name: String, remote: Environment?) {
        let chosen = name ?? defaultEnvironment ?? Self.local
        if chosen == Self.local { return (chosen, nil) }
        guard let environment = environments[chosen] else {
            let known = ([Self.local] + environments.keys.sorted()).joined(separator: ", ")
            throw CLIError("unknown environment '\(chosen)' (known: \(known)); add it with `tern env configure \(chosen) --url URL --token TOKEN`")
        }
        return (chosen, environment)
    }

    /// Checks a control-plane URL: `http` or `https`, with a host.
    static func urlProblem(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { return "\"\(text)\" is not an http(s) URL with a host, e.g. http://10.0.0.5:8889" }
        return nil
    }
}

extension Tern {
    /// `tern env`: the servers the CLI talks to.
    struct Env: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Configure the servers the CLI talks to (Cortex's environments).",
            discussion: """
                `local` is built in: the server of this TERN_HOME, started on demand. Every client \
                command takes -e/--env NAME; without it, the default environment is used.

                Examples:
                  tern env configure prod --url http://10.0.0.5:8889 --token "$(ssh box cat .tern/token)"
                  tern env list
                  tern env default prod
                  tern get -e local
                """,
            subcommands: [Configure.self, List.self, Default.self, Remove.self])

        struct Configure: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add or change an environment: a control-plane URL and its token.",
                discussion: """
                    The token is the server's TERN_HOME/token. The URL is checked by asking the \
                    server for /v1/info unless --no-verify is given.

                    Examples:
                      tern env configure prod --url http://10.0.0.5:8889 --token 3f9a…
                      tern env configure staging --url https://tern.example.com --token-file staging.token
                      tern env configure lab --url https://10.0.0.7:8889 --token-file lab.token --ca-file lab-cert.pem
                    """)

            @OptionGroup var global: HomeOption

            @Argument(help: "The environment's name (not `local`).")
            var name: String

            @Option(help: "The server's control-plane URL, e.g. http://10.0.0.5:8889.")
            var url: String

            @Option(help: "The server's bearer token.")
            var token: String?

            @Option(help: "A file holding the token (instead of --token).")
            var tokenFile: String?

            @Option(help: "A PEM file of certificates to trust for this server besides the system's (for a self-signed --tls-certificate).")
            var caFile: String?

            @Flag(help: "Save without asking the server for /v1/info.")
            var noVerify = false

            func validate() throws {
                if name == CLIEnvironments.local {
                    throw ValidationError("`local` is built in (this TERN_HOME's server); choose another name")
                }
                if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) {
                    throw ValidationError("'\(name)' is not a valid environment name (letters, digits, '-', '_', '.')")
                }
                if let problem = CLIEnvironments.urlProblem(url) { throw ValidationError(problem) }
                if (token == nil) == (tokenFile == nil) { throw ValidationError("give one of --token or --token-file") }
                if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                    throw ValidationError("--ca-file: cannot read \(caFile)")
                }
            }

            func run() async throws {
                let secret: String
                if let tokenFile {
                    guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                        throw CLIError("cannot read \(tokenFile)")
                    }
                    secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
                } else {
                    secret = token ?? ""
                }
                let home = global.ternHome
                var environments = try CLIEnvironments.load(home: home)
                let url = self.url.hasSuffix("/") ? String(self.url.dropLast()) : self.url
                if !noVerify {
                    do {
                        _ = try await TernClient(controlURL: url, token: secret, caFile: caFile).info(timeout: .seconds(5))
                    } catch {
                        throw CLIError("cannot reach the Tern server at \(url): \(error); check the URL and token, or save anyway with --no-verify")
                    }
                }
                let caFile = self.caFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                environments.environments[name] = .init(url: url, token: secret, caFile: caFile)
                try environments.save(home: home)
                Terminal.standardOutput.line("Saved environment \(name) (\(url)). Use it with `-e \(name)`, or make it the default with `tern env default \(name)`.")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the environments.",
                discussion: "Examples:\n  tern env list\n  tern env list -o json")

            @OptionGroup var global: HomeOption

            @Option(name: .shortAndLong, help: "Output format: table, json or yaml (tokens are never printed).")
            var output: OutputFormat = .table

            func run() async throws {
                let environments = try CLIEnvironments.load(home: global.ternHome)
                let chosen = environments.defaultEnvironment ?? CLIEnvironments.local
                let rows = [(CLIEnvironments.local, "this TERN_HOME's server (\(global.ternHome.root))")]
                    + environments.environments.keys.sorted().map { ($0, environments.environments[$0]!.url) }
                if output == .table {
                    Terminal.standardOutput.line(
                        renderTable(header: ["NAME", "SERVER", "DEFAULT"], rows: rows.map { [$0.0, $0.1, $0.0 == chosen ? "*" : ""] }))
                } else {
                    struct Row: Encodable { var name: String; var server: String; var isDefault: Bool }
                    let list = rows.map { Row(name: $0.0, server: $0.1, isDefault: $0.0 == chosen) }
                    Terminal.standardOutput.line(try output.encoded(list))
                }
            }
        }

        struct Default: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set the environment commands use without -e (or print it).",
                discussion: "Examples:\n  tern env default prod\n  tern env default local\n  tern env default")

            @OptionGroup var global: HomeOption

            @Argument(help: "The environment's name; omit to print the current default.")
            var name: String?

            func run() async throws {
                let home = global.ternHome
                var environments = try CLIEnvironments.load(home: home)
                guard let name else {
                    Terminal.standardOutput.line(environments.defaultEnvironment ?? CLIEnvironments.local)
                    return
                }
                _ = try environments.resolve(name)
                environments.defaultEnvironment = name == CLIEnvironments.local ? nil : name
                try environments.save(home: home)
                Terminal.standardOutput.line("Commands now use environment \(name) unless given -e.")
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "delete",
                abstract: "Remove a configured environment.",
                discussion: "Example:\n  tern env delete staging")

            @OptionGroup var global: HomeOption

            @Argument(help: "The environment's name.")
            var name: String

            func run() async throws {
                let home = global.ternHome
                var environments = try CLIEnvironments.load(home: home)
                guard environments.environments.removeValue(forKey: name) != nil else {
                    throw CLIError(name == CLIEnvironments.local ? "`local` is built in and cannot be deleted" : "no environment named '\(name)'; see `tern env list`")
                }
                if environments.defaultEnvironment == name { environments.defaultEnvironment = nil }
                try environments.save(home: home)
                Terminal.standardOutput.line("Deleted environment \(name).")
            }
        }
    }
}
