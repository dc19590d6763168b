import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import TernClient
import TernCore

/// The `tern` command tree. `Sources/tern/main.swift` only calls ``Tern/main()``.
public struct Tern: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "Deploy machine-learning models as autoscaling web APIs.",
        discussion: """
            Example (after writing a Python predictor and a tern.yaml):
              tern deploy                     # upload the project, wait until live
              tern get                        # list APIs
              tern predict iris sample.json   # send a request

            A local server starts in the background on first use (`tern up`). State lives in \
            TERN_HOME (default ~/.tern).
            """,
        version: ternVersion,
        subcommands: [
            Deploy.self, Get.self, Describe.self, Predict.self, Submit.self, Jobs.self, Keys.self, Token.self, Logs.self, Refresh.self, Delete.self, Env.self, Up.self,
            Down.self, Serve.self, Version.self, Completion.self,
        ]
    )

    public init() {}
}

/// `--home`: the options of the commands that act on this machine's server (`up`, `down`,
/// `serve`, `env`).
struct HomeOption: ParsableArguments {
    @Option(name: .customLong("home"), help: "Tern's state folder (default: $TERN_HOME or ~/.tern).")
    var home: String?

    /// The resolved home.
    var ternHome: TernHome {
        if let home { return TernHome(root: URL(fileURLWithPath: home).standardizedFileURL.path) }
        return TernHome.resolve()
    }
}

/// Options every client command shares: `--home` and `-e/--env`.
struct GlobalOptions: ParsableArguments {
    @OptionGroup var homeOption: HomeOption

    @Option(name: [.customShort("e"), .customLong("env")], help: "The environment to talk to (default: `tern env default`, else local).")
    var env: String?

    /// The resolved home.
    var ternHome: TernHome { homeOption.ternHome }

    /// A client of the chosen environment's server: for `local`, this home's server (started in
    /// the background when none runs); for a configured one, its URL and token, checked with
    /// `/v1/info`.
    /// - Throws: ``CLIError`` when the environment is unknown or its server does not answer.
    func client() async throws -> TernClient {
        let (name, remote) = try CLIEnvironments.load(home: ternHome).resolve(env)
        guard let remote else { return try await ServerConnection.client(home: ternHome).0 }
        let client: TernClient
        do {
            client = try TernClient(controlURL: remote.url, token: remote.token, caFile: remote.caFile)
        } catch {
            throw CLIError("environment \(name): cannot read its certificate file \(remote.caFile ?? ""): \(error); fix it with `tern env configure \(name) --ca-file FILE`")
        }
        do {
            _ = try await client.info(timeout: .seconds(10))
        } catch let error as ClientError where error.kind == .unauthorized {
            throw CLIError("environment \(name) (\(remote.url)) refused its token; update it with `tern env configure \(name) --url \(remote.url) --token TOKEN`")
        } catch {
            throw CLIError("cannot reach environment \(name) at \(remote.url): \(error); check `tern env list`")
        }
        return client
    }
}

/// A one-line error for the user; ArgumentParser prints it as `Error: …` and exits 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The entry point `Sources/tern/main.swift` calls.
public enum TernMain {
    /// Runs on the main thread before anything async: for `tern serve`, makes NIO's event loops
    /// Swift Concurrency's global executor, so request handling, actors and socket I/O share
    /// the same threads instead of waking each other up for every request
    /// (swift-nio `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`),
    /// with as many loops as `--event-loops` asks for (read here, before the group exists; an
    /// invalid value leaves NIO's default and is reported when the command is parsed).
    public static func prepare(arguments: [String] = CommandLine.arguments) {
        guard arguments.dropFirst().first == "serve" else { return }
        if let serve = try? Tern.Serve.parse(Array(arguments.dropFirst(2))), let count = try? serve.options.eventLoopCount {
            NIOSingletons.groupLoopCountSuggestion = count
        }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Parses the command line and runs the command; exits the process with its status.
    public static func run() async {
        if let message = unknownCommandMessage(CommandLine.arguments.dropFirst().first) {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            exit(ExitCode.validationFailure.rawValue)
        }
        await Tern.main()
    }

    /// For a first argument that is no subcommand (nor an option, nor `help`): `Error: unknown
    /// command 'gt' (did you mean 'get'?)` and the list of commands; nil otherwise.
    static func unknownCommandMessage(_ first: String?) -> String? {
        guard let first, !first.hasPrefix("-") else { return nil }
        let names = Tern.configuration.subcommands.compactMap { $0.configuration.commandName ?? defaultName(of: $0) }
        guard !names.contains(first), first != "help" else { return nil }
        let near = Suggestions.closest(to: first, in: names)
            ?? names.first { $0.hasPrefix(first) || first.hasPrefix($0) }
        let hint = near.map { " (did you mean '\($0)'?)" } ?? ""
        return "Error: unknown command '\(first)'\(hint)\nCommands: \(names.joined(separator: ", ")); see `tern --help`"
    }

    /// ArgumentParser's default command name: the type name, lower-cased and dash-separated.
    private static func defaultName(of command: any ParsableCommand.Type) -> String {
        let name = String(describing: command)
        var result = ""
        for (index, character) in name.enumerated() {
            if character.isUppercase, index > 0 { result += "-" }
            result += character.lowercased()
        }
        return result
    }
}
