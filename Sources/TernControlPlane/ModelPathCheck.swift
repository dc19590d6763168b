import Foundation
import HTTPTypes
import TernCore

/// Deploy-time checks of `predictor.models` paths inside the project (docs/models.md):
/// a project path must exist, and a model folder must be laid out as one model or as version
/// folders only. URLs (`file://`, `s3://`, …) are outside the bundle and checked by the replica.
///
/// The layout rule is the runtime's (`python/tern_runtime/models/policy.py`, `version_layout`):
/// sub-folders named `1`, `2`, `10` are versions; a folder named like a version but not one
/// (`v1`, `1.5`, `-1`, `01`) is malformed, and so is a folder mixing version folders with other
/// folders. Files and hidden entries are ignored.
enum ModelPathCheck {
    /// One problem: where in the spec, and what is wrong.
    struct Problem: Equatable {
        /// e.g. `predictor.models.paths[1].path`.
        var keyPath: String
        /// The path as written in the config (used to find its line).
        var value: String
        /// What is wrong and what is allowed.
        var message: String
    }

    /// Checks every API of `config` against the extracted project.
    /// - Parameters:
    ///   - config: the parsed config.
    ///   - projectDirectory: the folder that holds the config file in the extracted bundle.
    ///   - configText: the config file's text, to name lines (nil: no lines).
    ///   - fileName: the config file's name, for messages.
    /// - Throws: ``ControlPlaneError`` 422 `invalid_config` listing every problem, one per line
    ///   (`tern.yaml:9: api "iris": predictor.models.path: …`).
    static func check(_ config: ProjectConfig, projectDirectory: String, configText: String?, fileName: String) throws {
        var issues: [ConfigIssue] = []
        for spec in config.apis {
            guard let models = spec.predictor?.models else { continue }
            let key = configText.map { usesCortexKey(api: spec.name, in: $0) } == true ? "multi_model_reloading" : "models"
            for problem in problems(models.source, projectDirectory: projectDirectory, key: "predictor.\(key)") {
                issues.append(
                    ConfigIssue(
                        file: fileName, line: configText.flatMap { line(of: problem.value, api: spec.name, in: $0) },
                        api: spec.name, keyPath: problem.keyPath, message: problem.message))
            }
        }
        guard !issues.isEmpty else { return }
        throw ControlPlaneError(
            status: .unprocessableContent, kind: .invalidConfig, message: ConfigError(issues: issues).description,
            api: issues.count == 1 ? issues[0].api : nil)
    }

    /// The problems of one `models` source; `key` is its key path (`predictor.models`).
    static func problems(_ source: ModelSource, projectDirectory: String, key: String) -> [Problem] {
        switch source {
        case .path(let path):
            return checkModel(path, keyPath: "\(key).path", projectDirectory: projectDirectory)
        case .paths(let paths):
            return paths.enumerated().flatMap { index, model in
                checkModel(model.path, keyPath: "\(key).paths[\(index)].path", projectDirectory: projectDirectory)
            }
        case .dir(let dir):
            guard !dir.contains("://") else { return [] }
            let full = projectDirectory + "/" + dir
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isFolder) else {
                return [Problem(keyPath: "\(key).dir", value: dir, message: "\"\(dir)\" does not exist in the project")]
            }
            guard isFolder.boolValue else {
                return [
                    Problem(
                        keyPath: "\(key).dir", value: dir,
                        message: "\"\(dir)\" is a file; dir must be a folder holding one folder per model")
                ]
            }
            return entries(of: full).filter(\.isFolder).flatMap { entry in
                layoutProblem(entries(of: full + "/" + entry.name)).map {
                    Problem(keyPath: "\(key).dir", value: dir, message: "model folder \"\(dir)/\(entry.name)\" \($0)")
                }.map { [$0] } ?? []
            }
        }
    }

    private static func checkModel(_ path: String, keyPath: String, projectDirectory: String) -> [Problem] {
        guard !path.contains("://") else { return [] }
        let full = projectDirectory + "/" + path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isFolder) else {
            return [
                Problem(
                    keyPath: keyPath, value: path,
                    message: "\"\(path)\" does not exist in the project (a model file or folder, relative to the config file)")
            ]
        }
        guard isFolder.boolValue else { return [] }
        let contents = entries(of: full)
        if contents.isEmpty {
            return [Problem(keyPath: keyPath, value: path, message: "\"\(path)\" is an empty folder")]
        }
        return layoutProblem(contents).map { [Problem(keyPath: keyPath, value: path, message: "\"\(path)\" \($0)")] } ?? []
    }

    /// The entries of a folder (name, is a folder), hidden ones left out.
    private static func entries(of folder: String) -> [(name: String, isFolder: Bool)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isFolder)
            return (name, isFolder.boolValue)
        }
    }

    /// What is wrong with a model folder holding `entries`, or nil when it is one model or
    /// version folders only (pure; mirrors the runtime's `version_layout`).
    static func layoutProblem(_ entries: [(name: String, isFolder: Bool)]) -> String? {
        var versions: [Int] = []
        var others: [String] = []
        for entry in entries where entry.isFolder && !entry.name.hasPrefix(".") {
            if entry.name.wholeMatch(of: /0|[1-9][0-9]*/) != nil, let number = Int(entry.name) {
                versions.append(number)
            } else if entry.name.wholeMatch(of: /[vV]?[-+]?[0-9]+([._][0-9]+)*/) != nil {
                return "holds folder \"\(entry.name)\", which is not a valid version folder: versions are whole numbers "
                    + "without sign, prefix or leading zero (1, 2, 10)"
            } else {
                others.append(entry.name)
            }
        }
        guard !versions.isEmpty, !others.isEmpty else { return nil }
        return "mixes version folders (\(versions.sorted().map(String.init).joined(separator: ", "))) with other "
            + "folders (\(others.sorted().joined(separator: ", "))); a model folder holds either version folders only, "
            + "or one model"
    }

    /// Whether the API's entry spells the section `multi_model_reloading` (Cortex's name).
    private static func usesCortexKey(api: String, in text: String) -> Bool {
        let lines = apiLines(api: api, in: text)
        return lines.contains { $0.text.contains("multi_model_reloading:") }
    }

    /// The 1-based line where `value` is written in the entry of `api` (a heuristic: the first
    /// line of the entry holding `value` after a colon).
    private static func line(of value: String, api: String, in text: String) -> Int? {
        apiLines(api: api, in: text).first { line in
            guard let colon = line.text.firstIndex(of: ":") else { return false }
            return line.text[colon...].contains(value)
        }?.number
    }

    /// The lines of the top-level list entry whose `name` is `api` (from its `- ` line to the next).
    private static func apiLines(api: String, in text: String) -> [(number: Int, text: Substring)] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
            (number: $0 + 1, text: $1)
        }
        func indent(_ line: Substring) -> Int { line.prefix { $0 == " " }.count }
        func isItem(_ line: Substring) -> Bool { line.drop { $0 == " " }.hasPrefix("- ") }
        guard let top = lines.filter({ isItem($0.text) }).map({ indent($0.text) }).min() else { return [] }
        let starts = lines.indices.filter { isItem(lines[$0].text) && indent(lines[$0].text) == top }
        for (position, start) in starts.enumerated() {
            let end = position + 1 < starts.count ? starts[position + 1] : lines.count
            let entry = Array(lines[start..<end])
            let named = entry.contains { line in
                var text = line.text.drop { $0 == " " }
                if line.number == entry[0].number { text = text.dropFirst(2) } else if indent(line.text) != top + 2 {
                    return false
                }
                guard text.hasPrefix("name:") else { return false }
                let value = text.dropFirst(5).trimmingCharacters(in: .whitespaces)
                return value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) == api
            }
            if named { return entry }
        }
        return []
    }
}
