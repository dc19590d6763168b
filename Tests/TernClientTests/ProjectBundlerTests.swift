import Foundation
import TernClient
import TernControlPlane
import Testing

@Suite struct ProjectBundlerTests {
    /// A project folder built file by file, removed when the value goes away.
    final class Project {
        let root: URL
        let outside: URL

        init() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tern-bundler-\(UUID().uuidString)")
            root = base.appendingPathComponent("project")
            outside = base.appendingPathComponent("outside")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }

        func write(_ relative: String, _ text: String = "x") throws {
            try write(relative, bytes: Data(text.utf8))
        }

        func write(_ relative: String, bytes: Data) throws {
            let url = root.appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try bytes.write(to: url)
        }

        func link(_ relative: String, to target: String) throws {
            let url = root.appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }

        func paths(maxBytes: Int64 = 256 << 20) throws -> [String] {
            try ProjectBundler(directory: root, maxBytes: maxBytes).files().map(\.path)
        }
    }

    @Test func ternignorePatternsAndDefaultExclusionsLeaveFilesOut() throws {
        let project = try Project()
        for path in [
            "tern.yaml", "predictor.py", "requirements.txt", "src/model.py", "src/__pycache__/model.cpython-312.pyc",
            "src/old.pyc", ".git/config", ".venv/bin/python", ".DS_Store", "src/.hidden", "data/train.csv",
            "logs/a.log", "logs/keep.log", "build/out.bin", "sub/build/kept.txt", "notes.tmp",
        ] {
            try project.write(path)
        }
        try project.write(".ternignore", "# local files\ndata/\n*.log\n!keep.log\n/build\n\nnotes.*\n")
        #expect(
            try project.paths() == [
                "logs/keep.log", "predictor.py", "requirements.txt", "src/model.py", "sub/build/kept.txt", "tern.yaml",
            ])
    }

    @Test func cortexignoreIsReadWhenThereIsNoTernignore() throws {
        let project = try Project()
        for path in ["tern.yaml", "predictor.py", "weights/big.bin", "notes.md"] { try project.write(path) }
        try project.write(".cortexignore", "weights/\n*.md\n")
        #expect(try project.paths() == ["predictor.py", "tern.yaml"])
    }

    @Test func ternignoreWinsOverCortexignore() throws {
        let project = try Project()
        for path in ["tern.yaml", "a.md", "b.txt"] { try project.write(path) }
        try project.write(".ternignore", "*.txt\n")
        try project.write(".cortexignore", "*.md\n")
        #expect(try project.paths() == ["a.md", "tern.yaml"])
    }

    @Test func projectDotEnvIsIncludedButNoOtherDotFile() throws {
        let project = try Project()
        for path in ["tern.yaml", ".env", ".env.local", "src/.env", ".secrets/key"] { try project.write(path) }
        #expect(try project.paths() == [".env", "tern.yaml"])
    }

    @Test func linkToAFileIsBundledAsThatFile() throws {
        let project = try Project()
        try project.write("tern.yaml")
        try Data("weights".utf8).write(to: project.outside.appendingPathComponent("model.bin"))
        try project.link("model.bin", to: project.outside.appendingPathComponent("model.bin").path)
        try project.link("src/alias.yaml", to: "../tern.yaml")
        try project.link("dangling.py", to: project.outside.appendingPathComponent("missing.py").path)

        let files = try ProjectBundler(directory: project.root).files()
        #expect(files.map(\.path) == ["model.bin", "src/alias.yaml", "tern.yaml"])
        #expect(files.map(\.bytes) == [7, 1, 1])
    }

    @Test func linkToAFolderIsWalkedButALinkBackToAnAncestorIsNot() throws {
        let project = try Project()
        try project.write("tern.yaml")
        try project.write("src/a.py")
        try Data("shared".utf8).write(to: project.outside.appendingPathComponent("shared.py"))
        try project.link("lib", to: project.outside.path)
        try project.link("src/loop", to: "..")
        try project.link("src/self", to: ".")
        #expect(try project.paths() == ["lib/shared.py", "src/a.py", "tern.yaml"])
    }

    @Test func tooLargeProjectNamesItsLargestFiles() throws {
        let project = try Project()
        try project.write("tern.yaml", "")
        try project.write("big.bin", bytes: Data(count: 900))
        try project.write("data/medium.bin", bytes: Data(count: 500))
        try project.write("small.bin", bytes: Data(count: 200))
        try project.write("tiny.bin", bytes: Data(count: 10))
        let bundler = ProjectBundler(directory: project.root, maxBytes: 1000)
        #expect {
            try bundler.makeBundle()
        } throws: { error in
            (error as? BundlingError)?.description
                == "the project is 1.6 KiB, over the 1000 bytes bundle limit; largest files: big.bin (900 bytes), "
                + "data/medium.bin (500 bytes), small.bin (200 bytes). List files to leave out in .ternignore"
        }
        // Exactly at the limit is fine.
        #expect(throws: Never.self) { try ProjectBundler(directory: project.root, maxBytes: 1610).makeBundle() }
    }

    @Test func bundleExtractsToExactlyTheProjectFiles() throws {
        let project = try Project()
        let model = Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try project.write("tern.yaml", "- name: iris\n")
        try project.write("src/predictor.py", "class PythonPredictor: pass\n")
        try project.write("models/iris.bin", bytes: model)
        try project.write("empty.txt", "")
        try project.write(".env", "A=1\n")
        try project.write(".git/HEAD", "ref")
        try project.write("src/__pycache__/predictor.pyc", "bytecode")
        try Data("linked".utf8).write(to: project.outside.appendingPathComponent("linked.txt"))
        try project.link("linked.txt", to: project.outside.appendingPathComponent("linked.txt").path)

        let bundle = try ProjectBundler(directory: project.root).makeBundle()
        let bundles = project.outside.appendingPathComponent("bundles").path
        let (_, directory) = try BundleExtractor(bundlesDirectory: bundles).extract(bundle)

        var extracted: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + relative
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect(attributes[.type] as? FileAttributeType != .typeSymbolicLink, "\(relative) is a link")
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                extracted[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
        #expect(
            extracted == [
                "tern.yaml": Data("- name: iris\n".utf8),
                "src/predictor.py": Data("class PythonPredictor: pass\n".utf8),
                "models/iris.bin": model, "empty.txt": Data(), ".env": Data("A=1\n".utf8),
                "linked.txt": Data("linked".utf8),
            ])
    }

    @Test(arguments: [
        (Int64(0), "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (256 << 20, "256.0 MiB"),
        (3 << 30, "3.0 GiB"),
    ])
    func byteCountsAreFormattedForMessages(bytes: Int64, text: String) {
        #expect(ProjectBundler.formatBytes(bytes) == text)
    }
}
