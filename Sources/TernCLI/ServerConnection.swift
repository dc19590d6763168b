import AsyncHTTPClient
import Foundation
import TernClient
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Finds the local server of a `TERN_HOME` (through `server.json` and the token file), starting
/// it in the background when asked to.
enum ServerConnection {
    /// A client of the running server. With `autostart`, starts `tern serve` in the background
    /// when none answers, and says so on stderr.
    /// - Throws: ``CLIError`` when no server runs (and `autostart` is false) or it fails to start.
    static func client(home: TernHome, autostart: Bool = true) async throws -> (TernClient, ServerInfo) {
        if let found = await running(home: home) { return found }
        guard autostart else { throw CLIError("no Tern server is running for \(home.root); start one with `tern up`") }
        FileHandle.standardError.write(Data("Starting the local Tern server in the background (logs: \(home.serverLog))…\n".utf8))
        try await start(home: home, arguments: [])
        if let found = await running(home: home) { return found }
        throw CLIError("the Tern server did not start; see \(home.serverLog)")
    }

    /// The running server of `home`, if `server.json` names one that answers.
    static func running(home: TernHome) async -> (TernClient, ServerInfo)? {
        guard let data = FileManager.default.contents(atPath: home.serverFile),
            let info = try? WireJSON.decoder().decode(ServerInfo.self, from: data),
            kill(info.pid, 0) == 0,
            let token = try? String(contentsOfFile: home.tokenFile, encoding: .utf8)
        else { return nil }
        let client = TernClient(controlURL: info.controlURL, token: token.trimmingCharacters(in: .whitespacesAndNewlines))
        guard let confirmed = try? await client.info(), confirmed.pid == info.pid else { return nil }
        return (client, confirmed)
    }

    /// Starts `tern serve` detached (new session, output to `logs/server.log`) and waits up to
    /// 30 s for it to answer.
    /// - Throws: ``CLIError`` when it exits or does not answer in time.
    static func start(home: TernHome, arguments: [String]) async throws {
        try FileManager.default.createDirectory(atPath: home.logs, withIntermediateDirectories: true)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let pid = try spawnDetached(
            executable: executable, arguments: ["serve", "--home", home.root] + arguments, logPath: home.serverLog)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if await running(home: home) != nil { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let tail = (try? String(contentsOfFile: home.serverLog, encoding: .utf8))?
                    .split(separator: "\n").suffix(3).joined(separator: "\n") ?? ""
                throw CLIError("the Tern server exited at start-up:\n\(tail)\n(full log: \(home.serverLog))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CLIError("the Tern server did not answer within 30 s; see \(home.serverLog)")
    }

    /// glibc's `POSIX_SPAWN_SETSID` (not exported to Swift by the Glibc module).
    private static let posixSpawnSetSID: Int16 = 0x80

    /// posix_spawn with a new session, stdin from /dev/null, stdout and stderr appended to `logPath`.
    private static func spawnDetached(executable: String, arguments: [String], logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, posixSpawnSetSID)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw CLIError("could not start \(executable) serve: \(String(cString: strerror(result)))") }
        return pid
    }
}
