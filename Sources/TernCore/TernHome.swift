import Foundation

/// The layout of `TERN_HOME` (default `~/.tern`), where a local Tern keeps all its state.
///
/// ```
/// TERN_HOME/
///   tern.db        SQLite: APIs and revisions
///   token          bearer token of the control-plane API (mode 0600)
///   server.json    ServerInfo of the running `tern serve` (absent when stopped)
///   bundles/<digest>/  extracted project bundles
///   logs/<api>.log, logs/server.log
///   run/<replica>/     replica sockets and spec files
///   runtime/<digest>/  the unpacked Python runtime
///   venvs/<key>        virtual environments of requirements.txt files (docs/dependencies.md)
/// ```
public struct TernHome: Sendable, Equatable {
    /// The root folder.
    public var root: String

    /// A home at `root`.
    public init(root: String) {
        self.root = root
    }

    /// `TERN_HOME` from `environment`, else `~/.tern`.
    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> TernHome {
        if let explicit = environment["TERN_HOME"], !explicit.isEmpty {
            return TernHome(root: URL(fileURLWithPath: explicit).standardizedFileURL.path)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return TernHome(root: home + "/.tern")
    }

    /// SQLite database.
    public var database: String { root + "/tern.db" }
    /// Bearer token file.
    public var tokenFile: String { root + "/token" }
    /// Running server's ``ServerInfo``.
    public var serverFile: String { root + "/server.json" }
    /// Extracted bundles.
    public var bundles: String { root + "/bundles" }
    /// Logs.
    public var logs: String { root + "/logs" }
    /// Replica sockets.
    public var run: String { root + "/run" }
    /// Virtual environments built from projects' `requirements.txt`, one per content key
    /// (docs/dependencies.md).
    public var venvs: String { root + "/venvs" }
    /// The server's own log (when started in the background by `tern up`).
    public var serverLog: String { logs + "/server.log" }
}
