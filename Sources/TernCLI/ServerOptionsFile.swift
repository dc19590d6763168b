import ArgumentParser
import Foundation
import TernCore

extension TernHome {
    /// `TERN_HOME/server-options.json`: the options of the last server started for this home
    /// (see ``ServerOptionsFile``).
    var serverOptionsFile: String { root + "/server-options.json" }
}

/// The options the last `tern serve` of a `TERN_HOME` ran with (whether started by `tern up`, by
/// another command on demand, or by hand), so that a server started on demand after a crash or a
/// reboot comes back on the same ports, host and Python instead of the defaults.
///
/// Stored as JSON, `{"arguments": ["--port", "18888", …]}`: only the options that differ from
/// their defaults, `--python` made absolute.
struct ServerOptionsFile: Codable, Equatable {
    /// `tern serve` arguments, e.g. `["--port", "18888", "--control-port", "18889"]`.
    var arguments: [String]

    /// Writes `options` to `home`'s file (atomically).
    /// - Throws: A Foundation error when the file cannot be written.
    static func save(_ options: ServerOptions, home: TernHome) throws {
        let data = try WireJSON.encoder().encode(ServerOptionsFile(arguments: options.arguments))
        try data.write(to: URL(fileURLWithPath: home.serverOptionsFile), options: .atomic)
    }

    /// The saved options of `home`, or nil when none were saved. A file that cannot be read or
    /// parsed is reported on stderr and ignored (the defaults apply).
    static func load(home: TernHome) -> ServerOptions? {
        guard let data = FileManager.default.contents(atPath: home.serverOptionsFile) else { return nil }
        do {
            let file = try WireJSON.decoder().decode(ServerOptionsFile.self, from: data)
            return try ServerOptions.parse(file.arguments)
        } catch {
            Terminal.standardError.line(
                "warning: ignoring \(home.serverOptionsFile) (\(ServerOptions.message(for: error))); using the default server options")
            return nil
        }
    }
}
