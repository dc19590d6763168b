import Foundation
import Testing
import ZIPFoundation

@testable import TernControlPlane

@Suite struct BundleExtractorTests {
    private let model = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }

    private var project: [ZipEntry] {
        [
            .file("tern.yaml", "- name: iris\n  kind: RealtimeAPI\n  predictor: {type: python, path: predictor.py}\n"),
            .directory("src/"),
            .file("src/predictor.py", "class PythonPredictor:\n    def predict(self, payload):\n        return 1\n"),
            .file("models/iris.bin", bytes: model),
            .file("empty.txt", ""),
        ]
    }

    @Test func projectBundleExtractsWithExactContents() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path + "/bundles")
        let (digest, directory) = try extractor.extract(try makeZip(project))

        #expect(digest.count == 16)
        #expect(digest.allSatisfy { $0.isHexDigit })
        #expect(directory == home.path + "/bundles/" + digest)
        #expect(home.contents(of: "bundles") == [digest])  // no staging folder left behind
        let files = try filesUnder(directory)
        #expect(Set(files.keys) == ["tern.yaml", "src/predictor.py", "models/iris.bin", "empty.txt"])
        #expect(files["models/iris.bin"] == Data(model))
        #expect(files["empty.txt"] == Data())
        #expect(
            files["src/predictor.py"].map { String(decoding: $0, as: UTF8.self) }
                == "class PythonPredictor:\n    def predict(self, payload):\n        return 1\n")
    }

    @Test func retiringKeepsTheGivenDigestsAndRemovesOtherBundlesAndStagingFolders() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path + "/bundles")
        let (kept, _) = try extractor.extract(try makeZip(project))
        let (other, _) = try extractor.extract(try makeZip([.file("tern.yaml", "other")]))
        let manager = FileManager.default
        try manager.createDirectory(atPath: home.path + "/bundles/\(kept).tmp-0000/src", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: home.path + "/bundles/not-a-bundle", withIntermediateDirectories: true)

        #expect(extractor.retireBundles(keeping: [kept]) == ["\(kept).tmp-0000", other].sorted())
        #expect(home.contents(of: "bundles").filter { !$0.hasPrefix(".trash-") } == [kept, "not-a-bundle"].sorted())
        #expect(extractor.emptyTrash() == 2)
        #expect(home.contents(of: "bundles") == [kept, "not-a-bundle"].sorted())
        // A bundle extracted again after its folder was retired is written afresh.
        #expect(extractor.retireBundles(keeping: []) == [kept])
        let (again, directory) = try extractor.extract(try makeZip(project))
        #expect(again == kept)
        #expect(manager.fileExists(atPath: directory + "/models/iris.bin"))
        #expect(extractor.digest(containing: directory + "/src/predictor.py") == kept)
        #expect(extractor.digest(containing: "/elsewhere/\(kept)") == nil)
    }

    @Test func sameContentGivesTheSameDigestAndFolder() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path + "/bundles")
        let first = try extractor.extract(try makeZip(project))
        // The same files in another order, without the directory entry.
        let second = try extractor.extract(try makeZip(project.filter { $0.type == .file }.reversed()))
        #expect(first.digest == second.digest)
        #expect(first.directory == second.directory)
        #expect(home.contents(of: "bundles") == [first.digest])
    }

    @Test func changedContentGivesAnotherDigest() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path + "/bundles")
        let original = try extractor.extract(try makeZip([.file("a.py", "x = 1\n")]))
        let sameSize = try extractor.extract(try makeZip([.file("a.py", "x = 2\n")]))
        let renamed = try extractor.extract(try makeZip([.file("b.py", "x = 1\n")]))
        let added = try extractor.extract(try makeZip([.file("a.py", "x = 1\n"), .file("c.py", "")]))
        #expect(Set([original.digest, sameSize.digest, renamed.digest, added.digest]).count == 4)
        #expect(home.contents(of: "bundles").count == 4)
        #expect(try filesUnder(sameSize.directory) == ["a.py": Data("x = 2\n".utf8)])
    }

    /// (bad entry, text the message must contain)
    @Test(arguments: [
        (ZipEntry.file("/etc/cron.d/evil", "x"), "/etc/cron.d/evil"),
        (.file("../x", "x"), "../x"),
        (.file("a/../../x", "x"), "a/../../x"),
        (.file("src/./x", "x"), "src/./x"),
        (.file("a//x", "x"), "a//x"),
        (.file("a\\..\\x", "x"), "a\\..\\x"),
        (.directory("../outside/"), "../outside/"),
        (.symlink("link", to: "/etc/passwd"), "link"),
        (.symlink("src/inner", to: "../src"), "src/inner"),
    ])
    func unsafeEntryIsRefusedAndNothingIsWritten(bad: ZipEntry, named: String) throws {
        let home = try TemporaryDirectory()
        let bundles = home.path + "/bundles"
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        let zip = try makeZip([.file("tern.yaml", "ok"), .file("src/predictor.py", "ok"), bad])
        #expect {
            try BundleExtractor(bundlesDirectory: bundles).extract(zip)
        } throws: { error in
            guard let error = error as? BundleError else { return false }
            return error.description.contains(named)
        }
        #expect(home.contents(of: "bundles") == [])
        #expect(home.contents() == ["bundles"])
    }

    @Test func symbolicLinkIsRefusedWithAClearMessage() throws {
        let home = try TemporaryDirectory()
        let zip = try makeZip([.symlink("data", to: "/var/data")])
        #expect(
            throws: BundleError(description: "bundle entry data is a symbolic link; only regular files and folders are allowed")
        ) { try BundleExtractor(bundlesDirectory: home.path).extract(zip) }
    }

    @Test func entryCountLimitIsExact() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path, limits: BundleLimits(maxEntries: 3))
        let three: [ZipEntry] = [.directory("a/"), .file("a/1", "1"), .file("a/2", "2")]
        #expect(throws: Never.self) { try extractor.extract(try makeZip(three)) }
        let home2 = try TemporaryDirectory()
        let strict = BundleExtractor(bundlesDirectory: home2.path, limits: BundleLimits(maxEntries: 3))
        #expect(throws: BundleError(description: "the bundle has 4 entries; the limit is 3 entries")) {
            try strict.extract(try makeZip(three + [.file("a/3", "3")]))
        }
        #expect(home2.contents() == [])
    }

    @Test func extractedSizeLimitIsExact() throws {
        let home = try TemporaryDirectory()
        let extractor = BundleExtractor(bundlesDirectory: home.path, limits: BundleLimits(maxExtractedBytes: 10))
        #expect(throws: Never.self) {
            try extractor.extract(try makeZip([.file("a", "12345"), .file("b", "67890")]))
        }
        let home2 = try TemporaryDirectory()
        let strict = BundleExtractor(bundlesDirectory: home2.path, limits: BundleLimits(maxExtractedBytes: 10))
        #expect(throws: BundleError(description: "the bundle expands to more than 10 bytes (at entry b, which declares 6 bytes)")) {
            try strict.extract(try makeZip([.file("a", "12345"), .file("b", "678901")]))
        }
        #expect(home2.contents() == [])
    }

    @Test func uploadSizeLimitIsChecked() throws {
        let home = try TemporaryDirectory()
        let zip = try makeZip([.file("a", "1")])
        let extractor = BundleExtractor(
            bundlesDirectory: home.path, limits: BundleLimits(maxUploadBytes: zip.count - 1))
        #expect {
            try extractor.extract(zip)
        } throws: { error in
            (error as? BundleError)?.description
                == "the bundle is \(zip.count) bytes; the limit is \(zip.count - 1) bytes"
        }
        #expect(home.contents() == [])
    }

    @Test(arguments: [Data(), Data("not a zip at all".utf8), Data([0x50, 0x4b, 0x03, 0x04, 0, 0, 0])])
    func bodyThatIsNotAZipIsRefused(body: Data) throws {
        let home = try TemporaryDirectory()
        #expect {
            try BundleExtractor(bundlesDirectory: home.path + "/bundles").extract(body)
        } throws: { error in
            (error as? BundleError)?.description.hasPrefix("the bundle is not a readable zip archive") == true
        }
        #expect(home.contents() == [])
    }

    /// A zip whose directory understates the size of a deflated entry (a zip bomb).
    private func understatedZip(actual: Int, declared: UInt32) throws -> Data {
        var zip = try makeZip([.file("bomb.bin", bytes: Array(repeating: 0, count: actual))])
        func patch(signature: [UInt8], sizeOffset: Int) {
            guard let start = zip.firstRange(of: Data(signature))?.lowerBound else { return }
            let at = start + sizeOffset
            if zip[at..<at + 4].allSatisfy({ $0 == 0 }) { return }  // sizes in a data descriptor
            for index in 0..<4 { zip[at + index] = UInt8(truncatingIfNeeded: declared >> (8 * index)) }
        }
        patch(signature: [0x50, 0x4b, 0x03, 0x04], sizeOffset: 22)  // local file header
        patch(signature: [0x50, 0x4b, 0x01, 0x02], sizeOffset: 24)  // central directory
        return zip
    }

    @Test func entryThatExpandsPastItsDeclaredSizeIsRefused() throws {
        let home = try TemporaryDirectory()
        let bundles = home.path + "/bundles"
        let zip = try understatedZip(actual: 200_000, declared: 10)
        let extractor = BundleExtractor(bundlesDirectory: bundles, limits: BundleLimits(maxExtractedBytes: 1000))
        #expect(throws: BundleError(description: "bundle entry bomb.bin expands past the 10 bytes it declares")) {
            try extractor.extract(zip)
        }
        #expect(home.contents(of: "bundles") == [])
    }

    @Test func entryWhoseContentDoesNotMatchItsChecksumIsRefused() throws {
        let home = try TemporaryDirectory()
        var zip = try makeZip([.file("tern.yaml", "ok"), .file("model.bin", bytes: Array(repeating: 7, count: 100))])
        // Flip the CRC-32 of model.bin (the second entry) in its local header and in the directory.
        for (signature, offset) in [([UInt8]([0x50, 0x4b, 0x03, 0x04]), 14), ([0x50, 0x4b, 0x01, 0x02], 16)] {
            let first = try #require(zip.firstRange(of: Data(signature)))
            let second = try #require(zip[first.upperBound...].firstRange(of: Data(signature)))
            zip[second.lowerBound + offset] ^= 0xff
        }
        #expect(throws: BundleError(description: "bundle entry model.bin is corrupt: its size or CRC-32 does not match")) {
            try BundleExtractor(bundlesDirectory: home.path + "/bundles").extract(zip)
        }
        #expect(home.contents(of: "bundles") == [])
    }

    @Test func duplicateEntryIsRefused() throws {
        let home = try TemporaryDirectory()
        let zip = try makeZip([.file("a.py", "1"), .file("a.py", "2")])
        #expect(throws: BundleError(description: "bundle entry a.py appears more than once")) {
            try BundleExtractor(bundlesDirectory: home.path + "/bundles").extract(zip)
        }
        #expect(home.contents(of: "bundles") == [])
    }

    @Test func filePermissionsAreKept() throws {
        let home = try TemporaryDirectory()
        let zip = try makeZip([
            ZipEntry(path: "run.sh", data: Data("#!/bin/sh\n".utf8), permissions: 0o755),
            ZipEntry(path: "data.txt", data: Data("x".utf8), permissions: 0o644),
        ])
        let (_, directory) = try BundleExtractor(bundlesDirectory: home.path).extract(zip)
        func permissions(_ name: String) throws -> Int? {
            try (FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.posixPermissions] as? NSNumber)?
                .intValue
        }
        #expect(try permissions("run.sh") == 0o755)
        #expect(try permissions("data.txt") == 0o644)
    }
}
