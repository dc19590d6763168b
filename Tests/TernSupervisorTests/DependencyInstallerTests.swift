import Foundation
import Logging
import TernCore
import Testing

@testable import TernSupervisor

/// The pure parts of per-API dependencies: probe output, cache layout, pip's error summary and
/// the status overlay (with an injected instant).
@Suite struct DependencyPureTests {
    @Test func probeOutputDecodesAndKeysOnTheFirst16HexDigits() throws {
        let output = """
            some warning printed first
            {"version": "3.11", "full_version": "3.11.7", "prefix": "/opt/venv", "site_packages": ["/opt/venv/lib/python3.11/site-packages"], "has_pip": true, "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
            """
        let probe = try InterpreterProbe.parse(output)
        #expect(probe.version == "3.11")
        #expect(probe.fullVersion == "3.11.7")
        #expect(probe.prefix == "/opt/venv")
        #expect(probe.sitePackages == ["/opt/venv/lib/python3.11/site-packages"])
        #expect(probe.hasPip)
        #expect(probe.key == "0123456789abcdef")
    }

    @Test func probeOutputThatIsNotJSONThrows() {
        #expect(throws: (any Error).self) { try InterpreterProbe.parse("Traceback (most recent call last):") }
    }

    @Test func layoutPublishesALinkBesideItsBuildFolders() {
        let layout = VirtualEnvironmentLayout(root: "/home/t/venvs", key: "0123456789abcdef")
        #expect(layout.published == "/home/t/venvs/0123456789abcdef")
        #expect(layout.python == "/home/t/venvs/0123456789abcdef/bin/python")
        #expect(layout.buildFolder(suffix: "8c1e07aa") == "/home/t/venvs/0123456789abcdef-8c1e07aa")
        #expect(layout.isBuildFolder(named: "0123456789abcdef-8c1e07aa"))
        #expect(!layout.isBuildFolder(named: "0123456789abcdef"))
        #expect(!layout.isBuildFolder(named: "fedcba9876543210-8c1e07aa"))
        #expect(
            VirtualEnvironmentLayout.sitePackages(of: "/v/x", version: "3.12") == "/v/x/lib/python3.12/site-packages")
        #expect(VirtualEnvironmentLayout.basePathFile(sitePackages: ["/a", "/b"]) == "/a\n/b\n")
    }

    @Test func pipFailureSummaryKeepsTheErrorLines() {
        let lines = [
            "Processing ./missing.whl",
            "WARNING: Requirement './missing.whl' looks like a filename, but the file does not exist",
            "ERROR: Could not install packages due to an OSError: [Errno 2] No such file or directory: '/p/missing.whl'",
            "",
        ]
        #expect(
            PipOutput.failureSummary(lines, exitDescription: "exited(1)")
                == "ERROR: Could not install packages due to an OSError: [Errno 2] No such file or directory: '/p/missing.whl'")
        #expect(PipOutput.failureSummary(["a", "last words", " "], exitDescription: "x") == "last words")
        #expect(PipOutput.failureSummary([], exitDescription: "exited(2)") == "exited(2)")
        let long = PipOutput.failureSummary(["ERROR: " + String(repeating: "x", count: 1000)], exitDescription: "")
        #expect(long.count == 600)
        #expect(long.hasSuffix("…"))
    }

    /// pip ≥ 22 reports a failed build step of a requirement in a box ending in a closing note;
    /// the summary names the requirement, the step and the cause (pip 23.2 output, verbatim).
    @Test func aFailedBuildStepNamesTheRequirementAndTheCauseNotPipsClosingNote() {
        let lines = [
            "Looking in links: /opt/wheels",
            "Processing ./badpkg",
            "  Installing build dependencies: started",
            "  Installing build dependencies: finished with status 'done'",
            "  Getting requirements to build wheel: started",
            "  Getting requirements to build wheel: finished with status 'error'",
            "  error: subprocess-exited-with-error",
            "  ",
            "  × Getting requirements to build wheel did not run successfully.",
            "  │ exit code: 1",
            "  ╰─> [21 lines of output]",
            "      Traceback (most recent call last):",
            "        File \"/tmp/pipfail/v/lib/python3.11/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py\", line 353, in <module>",
            "          main()",
            "        File \"/tmp/pipfail/v/lib/python3.11/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py\", line 335, in main",
            "          json_out['return_val'] = hook(**hook_input['kwargs'])",
            "                                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
            "        File \"/tmp/pipfail/v/lib/python3.11/site-packages/pip/_vendor/pyproject_hooks/_in_process/_in_process.py\", line 118, in get_requires_for_build_wheel",
            "          return hook(config_settings)",
            "                 ^^^^^^^^^^^^^^^^^^^^^",
            "        File \"/tmp/pip-build-env-0roh37a3/overlay/lib/python3.11/site-packages/setuptools/build_meta.py\", line 333, in get_requires_for_build_wheel",
            "          return self._get_build_requires(config_settings, requirements=[])",
            "                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
            "        File \"/tmp/pip-build-env-0roh37a3/overlay/lib/python3.11/site-packages/setuptools/build_meta.py\", line 301, in _get_build_requires",
            "          self.run_setup()",
            "        File \"/tmp/pip-build-env-0roh37a3/overlay/lib/python3.11/site-packages/setuptools/build_meta.py\", line 520, in run_setup",
            "          super().run_setup(setup_script=setup_script)",
            "        File \"/tmp/pip-build-env-0roh37a3/overlay/lib/python3.11/site-packages/setuptools/build_meta.py\", line 317, in run_setup",
            "          exec(code, locals())  # noqa: S102 # exec is intentional here",
            "          ^^^^^^^^^^^^^^^^^^^^",
            "        File \"<string>\", line 2, in <module>",
            "      ModuleNotFoundError: No module named 'numpy_missing_module'",
            "      [end of output]",
            "  ",
            "  note: This error originates from a subprocess, and is likely not a problem with pip.",
            "error: subprocess-exited-with-error",
            "",
            "× Getting requirements to build wheel did not run successfully.",
            "│ exit code: 1",
            "╰─> See above for output.",
            "",
            "note: This error originates from a subprocess, and is likely not a problem with pip.",
        ]
        #expect(
            PipOutput.failureSummary(lines, exitDescription: "exited(1)")
                == "./badpkg: getting requirements to build wheel failed: ModuleNotFoundError: No module named 'numpy_missing_module'")
        let noBlock = ["Collecting x", "  error: subprocess-exited-with-error", "note: This error originates from a subprocess, and is likely not a problem with pip.", "hint: See above for details."]
        #expect(PipOutput.failureSummary(noBlock, exitDescription: "exited(1)") == "Collecting x")
        let wheel = [
            "Building wheels for collected packages: fastlib",
            "  Building wheel for fastlib (pyproject.toml): started",
            "  error: subprocess-exited-with-error",
            "  × Building wheel for fastlib (pyproject.toml) did not run successfully.",
            "  │ exit code: 1",
            "  ╰─> [3 lines of output]",
            "      running bdist_wheel",
            "      error: command 'gcc' failed: No such file or directory",
            "      [end of output]",
            "  note: This error originates from a subprocess, and is likely not a problem with pip.",
        ]
        #expect(
            PipOutput.failureSummary(wheel, exitDescription: "exited(1)")
                == "fastlib: building wheel for fastlib (pyproject.toml) failed: error: command 'gcc' failed: No such file or directory")
    }

    private func status(_ replicas: [ReplicaDocument], requested: Int = 1) -> BackendAPIStatus {
        BackendAPIStatus(
            status: .updating, message: nil, requestedReplicas: requested,
            readyReplicas: replicas.filter { $0.state == .ready }.count, replicas: replicas)
    }

    @Test func installingShowsTheFileAndWholeSecondsSinceTheStart() {
        let start = ContinuousClock.now
        let phase = DependencyPhase.installing(since: start)
        let result = phase.applied(to: status([]), api: "iris", revision: 1, now: start + .milliseconds(12_400))
        #expect(result.status == .updating)
        #expect(result.message == "installing dependencies (requirements.txt, 12 s)")
        #expect(result.phase == .installingDependencies)
        #expect(!phase.allowsReplicas)
        #expect(phase.python(configured: "python3") == "python3")
    }

    @Test func aFailedInstallIsAnErrorThatSaysOlderReplicasKeepServing() {
        let older = ReplicaDocument(id: "iris-a", revision: 1, state: .ready, pid: 10, restarts: 0, lastExit: nil)
        let phase = DependencyPhase.failed("ERROR: No matching distribution found for nope==1")
        let result = phase.applied(to: status([older]), api: "iris", revision: 2, now: .now)
        #expect(result.status == .error)
        #expect(result.phase == nil)
        #expect(
            result.message
                == "revision 2: installing requirements.txt failed: ERROR: No matching distribution found for nope==1;"
                + " run `tern logs iris` for pip's output; the update is held; 1 replica(s) of revision 1 keep serving")
        #expect(result.readyReplicas == 1)
        let alone = phase.applied(to: status([]), api: "iris", revision: 1, now: .now)
        #expect(alone.message?.hasSuffix("for pip's output") == true)
    }

    @Test func readyAndNotNeededLeaveTheStatusAlone() {
        let live = BackendAPIStatus(status: .live, message: nil, requestedReplicas: 0, readyReplicas: 0, replicas: [])
        #expect(DependencyPhase.notNeeded.applied(to: live, api: "a", revision: 1, now: .now) == live)
        let ready = DependencyPhase.ready(python: "/h/venvs/k/bin/python")
        #expect(ready.applied(to: live, api: "a", revision: 1, now: .now) == live)
        #expect(ready.allowsReplicas)
        #expect(ready.python(configured: "python3") == "/h/venvs/k/bin/python")
        #expect(DependencyPhase.notNeeded.python(configured: "python3") == "python3")
    }
}

/// ``DependencyInstaller`` against the real test Python, pip and a wheel built with `zipfile`
/// (no network).
@Suite(.serialized) struct DependencyInstallerTests {
    private let python = TestPython.path

    /// A project folder holding `requirements.txt` with `lines`, and a wheel of a package
    /// `ternunitdep` (version 1.0) under `wheels/`.
    private func project(requirements lines: [String]) throws -> (folder: String, requirements: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tern-deps-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder + "/src/ternunitdep", withIntermediateDirectories: true)
        try "VALUE = 42\n".write(toFile: folder + "/src/ternunitdep/__init__.py", atomically: true, encoding: .utf8)
        let builder = TestPython.repositoryRoot + "/examples/requirements-demo/build_wheel.py"
        let build = Process()
        build.executableURL = URL(fileURLWithPath: python)
        build.arguments = [builder, folder + "/src", "ternunitdep", "1.0", folder + "/wheels"]
        build.standardOutput = FileHandle.nullDevice
        try build.run()
        build.waitUntilExit()
        #expect(build.terminationStatus == 0)
        let requirements = folder + "/requirements.txt"
        try (lines.joined(separator: "\n") + "\n").write(toFile: requirements, atomically: true, encoding: .utf8)
        return (folder, requirements)
    }

    private func run(_ python: String, _ code: String) throws -> String {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", code]
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func installsOnceSharesTheEnvironmentAndKeepsTheBasePackagesVisible() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tern-venvs-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let installer = DependencyInstaller(root: root, python: python, logger: Logger(label: "test"))
        let (folder, requirements) = try project(requirements: ["./wheels/ternunitdep-1.0-py3-none-any.whl"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = LineRecorder()
        // Two concurrent requests for the same requirements: one pip run.
        async let first = installer.prepare(requirements: requirements, projectDirectory: folder, output: output.record)
        async let second = installer.prepare(requirements: requirements, projectDirectory: folder, output: output.record)
        let (a, b) = try await (first, second)
        #expect(a.python == b.python)
        #expect(a.python == root + "/" + a.key + "/bin/python")
        #expect([a.reused, b.reused].sorted { !$0 && $1 } == [false, true])
        let lines = await output.lines
        #expect(lines.filter { $0.contains("Successfully installed ternunitdep-1.0") }.count == 1, "\(lines)")
        #expect(lines.contains { $0.contains("waiting for the install of the same requirements.txt") }, "\(lines)")
        // The package is importable, and so are the base interpreter's packages (pip here).
        #expect(try run(a.python, "import ternunitdep, pip; print(ternunitdep.VALUE)") == "42")
        #expect(try run(a.python, "import sys; print(sys.prefix)").hasPrefix(root + "/"))
        // Published as one link to one build folder.
        let entries = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(entries.count == 2, "\(entries)")
        #expect(entries.first == a.key)
        // Asking again reuses it without pip.
        let again = try await installer.prepare(requirements: requirements, projectDirectory: folder, output: output.record)
        #expect(again == DependencyInstaller.Prepared(python: a.python, key: a.key, reused: true))
    }

    @Test func aMissingLocalWheelFailsWithPipsErrorAndPublishesNothing() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tern-venvs-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let installer = DependencyInstaller(root: root, python: python, logger: Logger(label: "test"))
        let (folder, requirements) = try project(requirements: ["./wheels/absent-2.0-py3-none-any.whl"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = LineRecorder()
        do {
            _ = try await installer.prepare(requirements: requirements, projectDirectory: folder, output: output.record)
            Issue.record("the install should fail")
        } catch let error as DependencyInstaller.InstallError {
            #expect(error.message.hasPrefix("ERROR:"), "\(error.message)")
            #expect(error.message.contains("absent-2.0-py3-none-any.whl"), "\(error.message)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    @Test func differentRequirementsGetDifferentKeys() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tern-venvs-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let installer = DependencyInstaller(root: root, python: python, logger: Logger(label: "test"))
        let (folder, one) = try project(requirements: ["# only a comment"])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let two = folder + "/other.txt"
        try "# another comment\n".write(toFile: two, atomically: true, encoding: .utf8)
        let first = try await installer.prepare(requirements: one, projectDirectory: folder) { _, _ in }
        let second = try await installer.prepare(requirements: two, projectDirectory: folder) { _, _ in }
        #expect(first.key != second.key)
        #expect(first.key.count == 16)
    }
}

/// Collects output lines from concurrent callers.
private actor LineRecorder {
    private(set) var lines: [String] = []

    nonisolated var record: DependencyInstaller.Output {
        { lines, _ in await self.append(lines) }
    }

    private func append(_ new: [String]) { lines += new }
}

/// The Python the tests run: `$TERN_TEST_PYTHON`, else the repository's `.venv/bin/python`.
private enum TestPython {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return "."
    }()

    static var path: String {
        ProcessInfo.processInfo.environment["TERN_TEST_PYTHON"] ?? repositoryRoot + "/.venv/bin/python"
    }
}
