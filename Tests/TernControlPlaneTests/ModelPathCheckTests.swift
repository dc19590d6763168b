import Foundation
import Testing
import TernCore

@testable import TernControlPlane

@Suite struct ModelPathCheckTests {
    @Test("version folders only, or no version folders, are well formed; files and hidden entries are ignored")
    func wellFormedLayouts() {
        #expect(ModelPathCheck.layoutProblem([("1", true), ("2", true), ("10", true), ("README", false)]) == nil)
        #expect(ModelPathCheck.layoutProblem([("variables", true), ("assets", true), ("model.pb", false)]) == nil)
        #expect(ModelPathCheck.layoutProblem([("1", true), (".cache", true)]) == nil)
        #expect(ModelPathCheck.layoutProblem([]) == nil)
    }

    @Test("names like v1, 1.5, -1 and 01 are not version folders", arguments: ["v1", "1.5", "-1", "01", "V2", "1_0"])
    func versionLikeNames(name: String) {
        #expect(
            ModelPathCheck.layoutProblem([(name, true)])
                == "holds folder \"\(name)\", which is not a valid version folder: versions are whole numbers without "
                + "sign, prefix or leading zero (1, 2, 10)")
    }

    @Test("version folders mixed with other folders")
    func mixedFolders() {
        #expect(
            ModelPathCheck.layoutProblem([("2", true), ("1", true), ("latest", true)])
                == "mixes version folders (1, 2) with other folders (latest); a model folder holds either version "
                + "folders only, or one model")
    }

    @Test("a missing project path, a missing dir, and URLs (not checked here)")
    func missingPaths() throws {
        let project = FileManager.default.temporaryDirectory.appendingPathComponent("tern-mpc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: project.appendingPathComponent("models/a/1"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: project) }
        let source = ModelSource.paths([
            ModelPath(name: "a", path: "models/a"), ModelPath(name: "b", path: "models/b"),
            ModelPath(name: "c", path: "file:///nowhere"),
        ])
        let problems = ModelPathCheck.problems(source, projectDirectory: project.path, key: "predictor.models")
        #expect(problems.map(\.keyPath) == ["predictor.models.paths[1].path"])
        #expect(problems.first?.message.hasPrefix("\"models/b\" does not exist in the project") == true)
        let dir = ModelPathCheck.problems(.dir("zoo"), projectDirectory: project.path, key: "predictor.models")
        #expect(dir.map(\.message) == ["\"zoo\" does not exist in the project"])
    }
}
