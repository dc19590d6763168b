import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
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
            Deploy.self, Get.self, Predict.self, Logs.self, Refresh.self, Delete.self, Up.self, Down.self, Serve.self,
            Version.self,
        ]
    )

    public init() {}
}

/// Options every client command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("home"), help: "Tern's state folder (default: $TERN_HOME or ~/.tern).")
    var home: String?

    /// The resolved home.
    var ternHome: TernHome {
        if let home { return TernHome(root: URL(fileURLWithPath: home).standardizedFileURL.path) }
        return TernHome.resolve()
    }
}

/// A one-line error for the user; ArgumentParser prints it as `Error: …` and exits 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Tern {
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print Tern's version.",
            discussion: "Example:\n  tern version")

        func run() {
            print("tern \(ternVersion)")
        }
    }
}

/// The entry point `Sources/tern/main.swift` calls.
public enum TernMain {
    /// Runs on the main thread before anything async: for `tern serve`, makes NIO's event loops
    /// Swift Concurrency's global executor, so request handling, actors and socket I/O share
    /// the same two threads instead of waking each other up for every request
    /// (swift-nio `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`).
    public static func prepare(arguments: [String] = CommandLine.arguments) {
        guard arguments.dropFirst().first == "serve" else { return }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Parses the command line and runs the command; exits the process with its status.
    public static func run() async {
        await Tern.main()
    }
}
