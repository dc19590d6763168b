import AsyncHTTPClient
import Foundation
import NIOCore
import TernClient
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Finds the local server of a `TERN_HOME` (through `server.json`, `serve.lock` and the token
/// file), starting it in the background when asked to.
enum ServerConnection {
    /// How long the `/v1/info` liveness probe of a server that holds `serve.lock` may take.
    static let probeTimeout = TimeAmount.seconds(2)

    /// What a `TERN_HOME` says about its server.
    enum State {
        /// A server answers.
        case running(TernClient, ServerInfo)
        /// None runs: no `server.json`, or a stale one (its server exited, even by SIGKILL).
        case stopped
        /// A server holds `serve.lock` but did not answer `/v1/info` within ``probeTimeout``.
        case unresponsive(pid: Int32, controlURL: String)
    }

    /// A client of the running server. With `autostart`, starts `tern serve` in the background
    /// when none runs, with the options of the last server of this home (``ServerOptionsFile``),
    /// and says so on stderr.
    /// - Throws: ``CLIError`` when no server runs (and `autostart` is false), when a server runs
    ///   but does not answer, or when it fails to start.
    static func client(home: TernHome, autostart: Bool = true) async throws -> (TernClient, ServerInfo) {
        switch await state(home: home) {
        case .running(let client, let info):
            return (client, info)
        case .unresponsive(let pid, let controlURL):
            throw CLIError(
                "the Tern server (pid \(pid)) runs for \(home.root) but did not answer at \(controlURL) within 2 s; "
                    + "try again, or restart it with `tern down` then `tern up`")
        case .stopped:
            break
        }
        guard autostart else { throw CLIError("no Tern server is running for \(home.root); start one with `tern up`") }
        let arguments = ServerOptionsFile.load(home: home)?.arguments ?? []
        let reused = arguments.isEmpty ? "" : " with the options of its last start (\(arguments.joined(separator: " ")))"
        Terminal.standardError.line("Starting the local Tern server in the background\(reused) (logs: \(home.serverLog))…")
        return try await start(home: home, arguments: arguments)
    }

    /// The running server of `home`, if one answers.
    static func running(home: TernHome) async -> (TernClient, ServerInfo)? {
        if case .running(let client, let info) = await state(home: home) { return (client, info) }
        return nil
    }

    /// Whether `home`'s server runs and answers. Fast when it does not: a `server.json` left by a
    /// server that crashed or was killed names a process that no longer holds `serve.lock` (the
    /// kernel releases the lock with the process, also when it lingers as a zombie).
    static func state(home: TernHome, expectedPID: Int32? = nil) async -> State {
        guard let data = FileManager.default.contents(atPath: home.serverFile),
            let info = try? WireJSON.decoder().decode(ServerInfo.self, from: data),
            expectedPID == nil || info.pid == expectedPID,
            kill(info.pid, 0) == 0,
            expectedPID != nil || ServerLock.isHeld(path: home.serveLock),
            let token = try? String(contentsOfFile: home.tokenFile, encoding: .utf8)
        else { return .stopped }
        // An unreadable certificate file: the probe fails certificate verification and says so.
        let secret = token.trimmingCharacters(in: .whitespacesAndNewlines)
        let client =
            (try? TernClient(controlURL: info.controlURL, token: secret, caFile: info.tlsCAFile))
            ?? TernClient(controlURL: info.controlURL, token: secret)
        guard var confirmed = try? await client.info(timeout: probeTimeout), confirmed.pid == info.pid else {
            return .unresponsive(pid: info.pid, controlURL: info.controlURL)
        }
        confirmed.tlsCAFile = info.tlsCAFile
        return .running(client, confirmed)
    }

    /// Starts `tern serve` detached (new session, output appended to `logs/server.log`) and waits
    /// up to 30 s for it to answer.
    /// - Returns: A client of the new server.
    /// - Throws: ``CLIError`` when it exits (quoting its error line from the log) or does not
    ///   answer in time.
    static func start(home: TernHome, arguments: [String]) async throws -> (TernClient, ServerInfo) {
        try FileManager.default.createDirectory(atPath: home.logs, withIntermediateDirectories: true)
        let logStart = (try? FileManager.default.attributesOfItem(atPath: home.serverLog)[.size] as? Int) ?? 0
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let pid = try spawnDetached(
            executable: executable, arguments: ["serve", "--home", home.root] + arguments, logPath: home.serverLog)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if case .running(let client, let info) = await state(home: home, expectedPID: pid) { return (client, info) }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw CLIError("the Tern server exited at start-up: \(startupFailure(log: home.serverLog, from: logStart))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CLIError("the Tern server did not answer within 30 s; see \(home.serverLog)")
    }

    /// What a server that exited at start-up wrote to `log` after byte `offset`: its `Error: …`
    /// line (ArgumentParser's) or `Fatal error` line when there is one, else its last 3 lines;
    /// followed by where the full log is.
    static func startupFailure(log: String, from offset: Int) -> String {
        let data = FileManager.default.contents(atPath: log) ?? Data()
        let lines = String(decoding: data.dropFirst(offset), as: UTF8.self).split(separator: "\n").map(String.init)
        let reason =
            lines.last(where: { $0.hasPrefix("Error: ") }).map { String($0.dropFirst("Error: ".count)) }
            ?? lines.last(where: { $0.contains("Fatal error") })
            ?? lines.suffix(3).joined(separator: "\n")
        return "\(reason)\n(full log: \(log))"
    }

    /// glibc's `POSIX_SPAWN_SETSID` (not exported to Swift by the Glibc module).
    private static let posixSpawnSetSID: Int16 = 0x80

    /// posix_spawn with a new session, stdin from /dev/null, stdout and stderr appended to `logPath`,
    /// every other descriptor closed.
    private static func spawnDetached(executable: String, arguments: [String], logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else the CLI holds (e.g. a pipe its caller reads until EOF) leaks into the server:
        // glibc's posix_spawn_file_actions_addclosefrom_np is not exported to Swift, so every
        // open descriptor above 2 is marked close-on-exec (the CLI exits soon after anyway).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        }
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
