import Foundation

/// What the replica Python reports about itself and a project's `requirements.txt`, read by
/// running ``script`` with it (`python -c SCRIPT PATH`); decides the cache key and the layout of
/// the virtual environment built for those requirements.
struct InterpreterProbe: Decodable, Sendable, Equatable {
    /// `major.minor`, e.g. `3.11` (names `lib/python3.11/site-packages`).
    var version: String
    /// `sys.version`'s first word, e.g. `3.11.7`.
    var fullVersion: String
    /// The interpreter's `sys.prefix` (a virtual environment's folder when it is one).
    var prefix: String
    /// The interpreter's site-packages folders (`site.getsitepackages()`, plus the user site when
    /// enabled): the environment sees them after its own packages.
    var sitePackages: [String]
    /// Whether `import pip` works; without pip, the environment gets its own (`ensurepip`).
    var hasPip: Bool
    /// Hex SHA-256 over `tern-venv-1`, ``fullVersion``, ``prefix`` and the bytes of
    /// `requirements.txt` (each separated by a NUL byte).
    var sha256: String

    enum CodingKeys: String, CodingKey {
        case version, prefix
        case fullVersion = "full_version"
        case sitePackages = "site_packages"
        case hasPip = "has_pip"
        case sha256
    }

    /// The probe, run as `python -c script REQUIREMENTS`: prints one JSON object with the keys
    /// of ``CodingKeys``. Hashing is done by Python's `hashlib`, the interpreter being at hand.
    static let script = """
        import hashlib, json, site, sys
        data = open(sys.argv[1], "rb").read()
        full = sys.version.split()[0]
        digest = hashlib.sha256(b"\\0".join([b"tern-venv-1", full.encode(), sys.prefix.encode(), data]))
        sites = list(site.getsitepackages())
        if site.ENABLE_USER_SITE:
            sites.append(site.getusersitepackages())
        try:
            import pip  # noqa: F401
            has_pip = True
        except ImportError:
            has_pip = False
        print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "full_version": full,
                          "prefix": sys.prefix, "site_packages": sites, "has_pip": has_pip,
                          "sha256": digest.hexdigest()}))
        """

    /// Decodes the probe's output (its last non-empty line).
    /// - Throws: `DecodingError` when the output is not the probe's JSON.
    static func parse(_ output: String) throws -> InterpreterProbe {
        let line = output.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        return try JSONDecoder().decode(InterpreterProbe.self, from: Data(line.utf8))
    }

    /// The cache key: the first 16 hex digits of ``sha256`` (64 bits; a collision needs about
    /// 4 × 10⁹ different requirement files).
    var key: String { String(sha256.prefix(16)) }
}

/// Where the cached virtual environment of one requirements key lives (pure paths).
///
/// ```
/// TERN_HOME/venvs/
///   3f9a1c0d2e4b5a69 -> 3f9a1c0d2e4b5a69-8c1e07aa   published (symbolic link)
///   3f9a1c0d2e4b5a69-8c1e07aa/                       the environment, never moved
/// ```
/// An environment is built in its own `<key>-<suffix>` folder and published, once pip
/// succeeded, by creating the `<key>` link (atomic): a crash or a failed install leaves at most
/// an unpublished folder, removed by the next build of that key. The environment is never moved
/// after pip ran, so the absolute paths pip writes into its scripts stay valid.
struct VirtualEnvironmentLayout: Sendable, Equatable {
    /// Folder of all environments (`TERN_HOME/venvs`).
    var root: String
    /// ``InterpreterProbe/key``.
    var key: String

    /// The published name: a symbolic link to the build folder, present only when complete.
    var published: String { root + "/" + key }
    /// The interpreter replicas run, through the published link.
    var python: String { published + "/bin/python" }

    /// A fresh build folder for this key (`<key>-<suffix>`).
    func buildFolder(suffix: String) -> String { root + "/" + key + "-" + suffix }

    /// Whether `name` (an entry of ``root``) is a build folder of this key.
    func isBuildFolder(named name: String) -> Bool { name.hasPrefix(key + "-") }

    /// Whether `name` is a key (``InterpreterProbe/key``: 16 lowercase hex digits), the name of a
    /// published link.
    static func isKey(_ name: String) -> Bool {
        name.utf8.count == 16 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The key of build folder `name` (`<key>-<suffix>`), or nil when `name` is not one.
    static func key(ofBuildFolder name: String) -> String? {
        let key = String(name.prefix(16))
        guard name.count > 17, isKey(key), name.dropFirst(16).first == "-" else { return nil }
        return key
    }

    /// The site-packages folder of an environment at `folder` for Python `version` (`3.11`).
    static func sitePackages(of folder: String, version: String) -> String {
        folder + "/lib/python" + version + "/site-packages"
    }

    /// Name of the `.pth` file that makes the replica Python's own packages visible.
    static let basePathFileName = "_tern_base_packages.pth"

    /// Contents of the `.pth` file: one folder per line. `site` appends these after the
    /// environment's own site-packages, so what requirements.txt installs takes precedence.
    static func basePathFile(sitePackages: [String]) -> String {
        sitePackages.map { $0 + "\n" }.joined()
    }
}

/// Reading pip's output (pure).
enum PipOutput {
    /// The reason an install failed, for the API's status message, naming the requirement that
    /// failed where pip says it, in this order: pip's `ERROR:` lines (joined with a space); for a
    /// build step that failed in a subprocess (pip ≥ 22: `× Getting requirements to build wheel did
    /// not run successfully.` above a `[N lines of output]` block), the requirement being processed,
    /// the step, and the block's last line (`./badpkg: getting requirements to build wheel failed:
    /// ModuleNotFoundError: No module named 'numpy'`); else the last non-empty line that is not one
    /// of pip's closing notes (`note:`, `hint:`, `See above for output.`); else `exitDescription`.
    /// At most 600 characters (the start is kept).
    static func failureSummary(_ lines: [String], exitDescription: String) -> String {
        let trimmed = lines.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let errors = trimmed.filter { $0.hasPrefix("ERROR:") }
        let summary: String
        if !errors.isEmpty {
            summary = errors.joined(separator: " ")
        } else if let failure = subprocessFailure(trimmed) {
            summary = failure
        } else {
            summary = trimmed.last { !isClosingNote($0) } ?? exitDescription
        }
        return summary.count > 600 ? String(summary.prefix(599)) + "…" : summary
    }

    /// pip's report of a failed build subprocess: the first `× <step> did not run successfully.`,
    /// the last line of the output block after it, and the requirement pip was processing.
    private static func subprocessFailure(_ lines: [String]) -> String? {
        let suffix = " did not run successfully."
        guard let stepIndex = lines.firstIndex(where: { $0.hasPrefix("× ") && $0.hasSuffix(suffix) }) else { return nil }
        let stepLine = lines[stepIndex]
        let step = stepLine.dropFirst(2).dropLast(suffix.count)
        let blockEnd = lines[stepIndex...].firstIndex { $0 == "[end of output]" }
        let cause = blockEnd.flatMap { end in
            lines[stepIndex..<end].last { !$0.hasPrefix("╰─>") && !$0.hasPrefix("│") && !$0.hasPrefix("×") }
        }
        let processing = lines[..<stepIndex].last { line in
            ["Processing ", "Collecting ", "Building wheel for ", "Running setup.py install for "].contains { line.hasPrefix($0) }
        }
        let requirement = processing.map { line -> String in
            let words = line.split(separator: " ")
            // `Building wheel for NAME (pyproject.toml): …`, `Collecting NAME==1.0`, `Processing ./dir`
            let index = line.hasPrefix("Building wheel for ") || line.hasPrefix("Running setup.py install for ") ? 3 : 1
            return words.count > index ? String(words[index]).trimmingCharacters(in: CharacterSet(charactersIn: ":")) : line
        }
        let what = step.prefix(1).lowercased() + step.dropFirst()
        var text = (requirement.map { "\($0): " } ?? "") + "\(what) failed"
        if let cause { text += ": \(cause)" }
        return text
    }

    /// pip's closing lines that say nothing about the failure.
    private static func isClosingNote(_ line: String) -> Bool {
        line.hasPrefix("note:") || line.hasPrefix("hint:") || line.hasSuffix("See above for output.")
            || line.hasSuffix("See above for details.") || line.hasPrefix("│ exit code:")
            || line == "error: subprocess-exited-with-error"
    }
}
