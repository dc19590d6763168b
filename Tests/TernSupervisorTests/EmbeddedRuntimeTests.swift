import Foundation
import TernRuntimeBundle
import Testing

@testable import TernSupervisor

/// The runtime embedded at build time is exactly `python/tern_runtime` on disk, with the digest
/// Python's hashlib computes, and unpacks to a folder that imports.
@Suite struct EmbeddedRuntimeTests {
    private static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func bundleHoldsEveryPythonFileOfTheRuntimeByteForByte() throws {
        let root = Self.repository.appendingPathComponent("python")
        let walker = try #require(FileManager.default.enumerator(atPath: root.appendingPathComponent("tern_runtime").path))
        var onDisk: [String: Data] = [:]
        for case let relative as String in walker where relative.hasSuffix(".py") && !relative.contains("__pycache__") {
            onDisk["tern_runtime/" + relative] = FileManager.default.contents(
                atPath: root.appendingPathComponent("tern_runtime/" + relative).path)
        }
        let files = EmbeddedRuntime.files
        #expect(
            files.count == onDisk.count,
            "the embedded runtime is stale: after adding or removing a file under python/tern_runtime, `touch Package.swift` and build again")
        #expect(files.map(\.path) == onDisk.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        for file in files {
            #expect(file.contents == onDisk[file.path], "\(file.path) differs from the file on disk")
        }
        #expect(files.contains { $0.path == "tern_runtime/server.py" })
        #expect(files.contains { $0.path == "tern_runtime/v2/__init__.py" })
    }

    @Test func digestIsWhatHashlibComputes() throws {
        let script = """
            import hashlib, pathlib, sys
            root = pathlib.Path(sys.argv[1])
            files = sorted((p.relative_to(root.parent).as_posix(), p) for p in root.rglob("*.py") if "__pycache__" not in p.parts)
            digest = hashlib.sha256()
            for relative, path in sorted(files, key=lambda f: f[0].encode()):
                digest.update(relative.encode() + b"\\0" + path.read_bytes() + b"\\0")
            print(digest.hexdigest()[:16])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, Self.repository.appendingPathComponent("python/tern_runtime").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let expected = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(expected.count == 16)
        #expect(EmbeddedRuntime.digest == expected)
    }

    @Test func installerUnpacksIntoTheDigestFolderOnce() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tern-runtime-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let folder = try RuntimeInstaller.install(home: home.path)
        #expect(folder == home.path + "/runtime/" + EmbeddedRuntime.digest)
        for file in EmbeddedRuntime.files {
            #expect(FileManager.default.contents(atPath: folder + "/" + file.path) == file.contents)
        }
        #expect(FileManager.default.fileExists(atPath: folder + "/.complete"))
        #expect(try RuntimeInstaller.install(home: home.path) == folder)
    }
}
