import Foundation
import Logging
import Subprocess
import SystemPackage
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Installs a project's `requirements.txt` into a virtual environment cached under
/// `TERN_HOME/venvs`, keyed by the SHA-256 of the file's content and the replica Python's
/// version and prefix (``InterpreterProbe``), and shared by every API and revision with the same
/// requirements. See docs/dependencies.md.
///
/// The environment is created from the configured replica Python (`python -m venv`, which from
/// inside a virtual environment makes one of the base interpreter) and sees that Python's
/// site-packages through a `.pth` file, after its own packages; then
/// `python -m pip install --disable-pip-version-check -r requirements.txt` runs in the project
/// folder (so `./wheels/x.whl` lines work). Layout and atomic publication:
/// ``VirtualEnvironmentLayout``. Concurrent requests for one key wait for a single install.
actor DependencyInstaller {
    /// A ready environment.
    struct Prepared: Sendable, Equatable {
        /// The interpreter replicas run.
        var python: String
        /// ``InterpreterProbe/key``.
        var key: String
        /// True when the environment was already built (no pip run for this request).
        var reused: Bool
    }

    /// Why an environment could not be prepared; `message` is pip's reason (or the failing step).
    struct InstallError: Error, CustomStringConvertible, Sendable {
        /// What went wrong, in one line.
        var message: String
        /// ``message``.
        var description: String { message }
    }

    /// Receives output lines and their source: `pip` (the output of `venv` and pip) or `tern`
    /// (the installer's own notes).
    typealias Output = @Sendable (_ lines: [String], _ source: String) async -> Void

    private let root: String
    private let python: String
    private let logger: Logger
    private var inFlight: [String: Task<Prepared, any Error>] = [:]
    /// Keys handed out by ``prepare(requirements:projectDirectory:output:)`` since the last
    /// ``sweep(keepingPythons:)``: kept by the next sweep, whose caller may not know them yet.
    private var preparedSinceSweep: Set<String> = []

    /// An installer that keeps environments under `root`, built from the interpreter `python` (a
    /// name on `PATH` or a path).
    init(root: String, python: String, logger: Logger) {
        self.root = root
        self.python = python
        self.logger = logger
    }

    /// Returns the interpreter for the requirements file at `requirements` (in
    /// `projectDirectory`): the cached environment when there is one, else after building it.
    /// Build output goes to `output`; a caller that joins a build in progress is told so.
    /// - Throws: ``InstallError`` when the probe, `venv` or pip fails.
    func prepare(requirements: String, projectDirectory: String, output: @escaping Output) async throws -> Prepared {
        let probe = try await Self.probe(python: python, requirements: requirements)
        let layout = VirtualEnvironmentLayout(root: root, key: probe.key)
        preparedSinceSweep.insert(probe.key)
        if FileManager.default.fileExists(atPath: layout.python) {
            return Prepared(python: layout.python, key: probe.key, reused: true)
        }
        if let running = inFlight[probe.key] {
            await output(["waiting for the install of the same \(DependencyPhase.requirementsFile) (environment \(probe.key)) already in progress"], "tern")
            var prepared = try await running.value
            prepared.reused = true
            return prepared
        }
        let python = self.python
        let task = Task<Prepared, any Error> {
            try await Self.build(layout: layout, probe: probe, python: python, requirements: requirements,
                                 projectDirectory: projectDirectory, output: output)
        }
        inFlight[probe.key] = task
        defer { inFlight[probe.key] = nil }
        do {
            let prepared = try await task.value
            logger.info("built environment \(probe.key) for \(requirements)")
            return prepared
        } catch {
            logger.info("building environment \(probe.key) for \(requirements) failed: \(error)")
            throw error
        }
    }

    /// Deletes every environment of ``root`` that none of `pythons` (interpreter paths replicas
    /// run, `<root>/<key>/bin/python`) belongs to, except those being built and those handed out
    /// since the last sweep; and every build folder that is neither published nor being built
    /// (the leftover of a crash or a failed install). A published environment is unpublished first
    /// (its `<key>` link removed) and its folder renamed to `.trash-<uuid>` (``TrashFolder``), so a later
    /// ``prepare(requirements:projectDirectory:output:)`` builds it afresh rather than using a
    /// folder being deleted; the folders are then deleted off the actor's executor.
    /// - Returns: the keys whose environment was removed, sorted.
    @discardableResult
    func sweep(keepingPythons pythons: Set<String>) async -> [String] {
        let manager = FileManager.default
        var keep = preparedSinceSweep.union(inFlight.keys)
        preparedSinceSweep = []
        for python in pythons where python.hasPrefix(root + "/") {
            keep.insert(String(python.dropFirst(root.count + 1).prefix { $0 != "/" }))
        }
        let names = (try? manager.contentsOfDirectory(atPath: root)) ?? []
        var removed: [String] = []
        var published: Set<String> = []
        for name in names where VirtualEnvironmentLayout.isKey(name) {
            let link = root + "/" + name
            if keep.contains(name) {
                if let target = try? manager.destinationOfSymbolicLink(atPath: link) { published.insert(target) }
            } else if (try? manager.removeItem(atPath: link)) != nil {
                removed.append(name)
            }
        }
        let trash = TrashFolder(directory: root)
        var hasTrash = false
        for name in names {
            if TrashFolder.isTrash(name) {
                hasTrash = true
            } else if let key = VirtualEnvironmentLayout.key(ofBuildFolder: name), !published.contains(name), inFlight[key] == nil {
                hasTrash = trash.retire(name) || hasTrash
            }
        }
        if !removed.isEmpty { logger.info("removing unused environments \(removed.sorted().joined(separator: ", "))") }
        if hasTrash {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    trash.empty()
                    done.resume()
                }
            }
        }
        return removed.sorted()
    }

    /// Cancels the builds in progress (their `venv` or pip process is terminated; nothing is
    /// published) and waits for them to end.
    func shutdown() async {
        let running = Array(inFlight.values)
        for task in running { task.cancel() }
        for task in running { _ = try? await task.value }
    }

    // MARK: - Steps

    private static func probe(python: String, requirements: String) async throws -> InterpreterProbe {
        let (status, lines) = try await run(python, ["-c", InterpreterProbe.script, requirements], directory: nil)
        guard status == .exited(0), let probe = try? InterpreterProbe.parse(lines.joined(separator: "\n")) else {
            throw InstallError(message: "could not inspect the replica Python \(python): "
                + PipOutput.failureSummary(lines, exitDescription: "\(status)"))
        }
        return probe
    }

    private static func build(
        layout: VirtualEnvironmentLayout, probe: InterpreterProbe, python: String, requirements: String,
        projectDirectory: String, output: @escaping Output
    ) async throws -> Prepared {
        let manager = FileManager.default
        try? manager.createDirectory(atPath: layout.root, withIntermediateDirectories: true)
        // Leftovers of an earlier build of this key that crashed or failed (never published).
        for name in (try? manager.contentsOfDirectory(atPath: layout.root)) ?? [] where layout.isBuildFolder(named: name) {
            try? manager.removeItem(atPath: layout.root + "/" + name)
        }
        let folder = layout.buildFolder(suffix: String(UInt32.random(in: 0...UInt32.max), radix: 16))
        await output(["creating environment \(probe.key) from \(python) (Python \(probe.fullVersion))"], "tern")
        let venvArguments = ["-m", "venv"] + (probe.hasPip ? ["--without-pip"] : []) + [folder]
        let (venv, venvLines) = try await run(python, venvArguments, directory: nil)
        guard venv == .exited(0) else {
            try? manager.removeItem(atPath: folder)
            await output(venvLines, "pip")
            throw InstallError(message: "`python -m venv` failed: " + PipOutput.failureSummary(venvLines, exitDescription: "\(venv)"))
        }
        DeployCrashHook.reach(.venvCreated)
        let sitePackages = VirtualEnvironmentLayout.sitePackages(of: folder, version: probe.version)
        let pth = sitePackages + "/" + VirtualEnvironmentLayout.basePathFileName
        guard manager.createFile(
            atPath: pth, contents: Data(VirtualEnvironmentLayout.basePathFile(sitePackages: probe.sitePackages).utf8))
        else {
            try? manager.removeItem(atPath: folder)
            throw InstallError(message: "could not write \(pth)")
        }
        await output(["running pip install --disable-pip-version-check -r \(DependencyPhase.requirementsFile) in the project folder"], "tern")
        let (pip, tail) = try await run(
            folder + "/bin/python", ["-m", "pip", "install", "--disable-pip-version-check", "-r", requirements],
            directory: projectDirectory, forward: { await output($0, "pip") })
        guard pip == .exited(0) else {
            try? manager.removeItem(atPath: folder)
            throw InstallError(message: PipOutput.failureSummary(tail, exitDescription: "pip \(pip)"))
        }
        DeployCrashHook.reach(.pipInstalled)
        do {
            // Relative, so the home can move; creating the link is the atomic publication.
            try manager.createSymbolicLink(atPath: layout.published, withDestinationPath: (folder as NSString).lastPathComponent)
        } catch {
            // Published meanwhile by another server on the same home: use that one.
            try? manager.removeItem(atPath: folder)
            guard manager.fileExists(atPath: layout.python) else {
                throw InstallError(message: "could not publish \(layout.published): \(error)")
            }
        }
        await output(["environment \(probe.key) ready"], "tern")
        return Prepared(python: layout.python, key: probe.key, reused: false)
    }

    /// Runs `executable` with `arguments` (stdout and stderr combined, `PIP_NO_INPUT=1`,
    /// unbuffered), handing complete lines to `forward` as they come; returns the exit status
    /// and the last 200 lines.
    private static func run(
        _ executable: String, _ arguments: [String], directory: String?,
        forward: (@Sendable ([String]) async -> Void)? = nil
    ) async throws -> (TerminationStatus, [String]) {
        let environment: [Environment.Key: String?] = [
            "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONUNBUFFERED": "1",
        ]
        let target: Executable = executable.contains("/") ? .path(FilePath(executable)) : .name(executable)
        do {
            let result = try await Subprocess.run(
                target, arguments: Arguments(arguments), environment: .inherit.updating(environment),
                workingDirectory: directory.map { FilePath($0) }, input: .none, output: .sequence,
                error: .combinedWithOutput
            ) { execution in
                var pending: [UInt8] = []
                var tail: [String] = []
                for try await buffer in execution.standardOutput {
                    buffer.withUnsafeBytes { pending.append(contentsOf: $0) }
                    var complete: [String] = []
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        complete.append(String(decoding: pending[..<newline], as: UTF8.self))
                        pending.removeSubrange(...newline)
                    }
                    if pending.count > 64 * 1024 {
                        complete.append(String(decoding: pending, as: UTF8.self))
                        pending.removeAll()
                    }
                    if complete.isEmpty { continue }
                    tail = Array((tail + complete).suffix(200))
                    await forward?(complete)
                }
                if !pending.isEmpty {
                    let last = String(decoding: pending, as: UTF8.self)
                    tail.append(last)
                    await forward?([last])
                }
                return tail
            }
            return (result.terminationStatus, result.closureResult)
        } catch {
            throw InstallError(message: "could not run \(executable): \(error)")
        }
    }
}
