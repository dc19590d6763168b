import Foundation
import Testing
import TernTesting

@testable import TernControlPlane

/// Hostile bundles (issue 18, part 3): each is refused with an error naming the entry and the
/// limit, or extracted with safe modes, and nothing is written outside the bundles folder. The
/// zips are built byte by byte (``RawZip``) where a zip library would not write the field.
@Suite struct HostileBundleTests {
    /// A sandbox whose bundles folder is three levels down, so a `../../..` escape would land
    /// inside the sandbox, where ``expectNothingWritten(_:)`` sees it.
    final class Sandbox {
        let home: TemporaryDirectory
        var bundles: String { home.path + "/a/b/bundles" }
        init() throws {
            home = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        }
        var extractor: BundleExtractor { BundleExtractor(bundlesDirectory: bundles) }
    }

    /// The sandbox holds its (empty) bundles folder and nothing else.
    private func expectNothingWritten(_ sandbox: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(treeUnder(sandbox.home.path) == ["a", "a/b", "a/b/bundles"], sourceLocation: sourceLocation)
    }

    /// Expects `zip` to be refused with a message containing every one of `parts`, having
    /// written nothing; returns the message.
    @discardableResult
    private func expectRefused(
        _ zip: Data, _ parts: String..., limits: BundleLimits = BundleLimits(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let sandbox = try Sandbox()
        var message = ""
        do {
            let result = try BundleExtractor(bundlesDirectory: sandbox.bundles, limits: limits).extract(zip)
            Issue.record("extracted to \(result.directory), expected a refusal", sourceLocation: sourceLocation)
        } catch let error as BundleError {
            message = error.description
        }
        for part in parts {
            #expect(message.contains(part), "\(message) should contain \(part)", sourceLocation: sourceLocation)
        }
        expectNothingWritten(sandbox, sourceLocation: sourceLocation)
        return message
    }

    private let valid: [RawZip.Entry] = [.file("tern.yaml", "- name: a\n"), .file("src/predictor.py", "x = 1\n")]

    // MARK: - File types and modes

    @Test(arguments: [
        (UInt32(0o010644), "a FIFO (named pipe)"), (0o020644, "a character device"), (0o060644, "a block device"),
        (0o140755, "a socket"), (0o170644, "of unknown file type 0o170000"),
    ])
    func specialFileIsRefusedNamingItsType(mode: UInt32, kind: String) throws {
        let zip = RawZip.build(valid + [.file("dev/thing", "", mode: mode)])
        let message = try expectRefused(zip)
        #expect(message == "bundle entry dev/thing is \(kind); only regular files and folders are allowed")
    }

    @Test func setuidStickyAndWorldWritableModesAreNotApplied() throws {
        let sandbox = try Sandbox()
        let modes: [(String, UInt32, Int)] = [
            ("setuid", 0o104755, 0o755), ("setgid", 0o102755, 0o755), ("sticky", 0o101777, 0o755),
            ("world-writable", 0o100666, 0o644), ("all", 0o100777, 0o755), ("owner-only", 0o100700, 0o755),
            ("private", 0o100600, 0o644), ("none", 0o100000, 0o644), ("exec-only", 0o100111, 0o755),
        ]
        let entries = modes.map { RawZip.Entry.file("bin/\($0.0)", "#!/bin/sh\n", mode: $0.1) } + [
            .directory("open/", mode: 0o041777), .file("open/f", "x"),
        ]
        let (_, directory) = try sandbox.extractor.extract(RawZip.build(entries))
        func mode(_ path: String) throws -> Int {
            try #require((FileManager.default.attributesOfItem(atPath: directory + "/" + path)[.posixPermissions] as? NSNumber)?.intValue)
        }
        for (name, _, expected) in modes {
            #expect(try mode("bin/" + name) == expected, "bin/\(name)")
        }
        #expect(try mode("open") == 0o755)
        #expect(try mode("bin") == 0o755)
        #expect(try mode("") == 0o755)
    }

    // MARK: - Names

    @Test func nulByteInANameIsRefusedAndShownEscaped() throws {
        let zip = RawZip.build(valid + [RawZip.Entry(name: Array("ok.py\u{0}../../evil".utf8), data: Array("x".utf8))])
        let message = try expectRefused(zip)
        #expect(message == "bundle entry ok.py\\x00../../evil has a control character in its path")
    }

    /// (name, text the message must contain)
    @Test(arguments: [
        ("..\\x", "has an absolute or Windows path"), ("a\\..\\..\\x", "has an absolute or Windows path"),
        ("a//b", "has an empty path component"), ("", "a bundle entry has an empty path"),
        ("a/\n/b", "has a control character"), ("C:/x/../../y", "contains .."),
    ])
    func badNameIsRefused(name: String, expected: String) throws {
        try expectRefused(RawZip.build(valid + [.file(name, "x")]), expected)
    }

    @Test func namesUpToTheLimitsExtractAndLongerAreRefused() throws {
        let longest = String(repeating: "n", count: 255)
        let deepest = Array(repeating: String(repeating: "d", count: 99), count: 10).joined(separator: "/") + "/" + String(repeating: "f", count: 24)
        #expect(deepest.utf8.count == 1024)
        let sandbox = try Sandbox()
        let (_, directory) = try sandbox.extractor.extract(RawZip.build([.file(longest, "1"), .file(deepest, "2")]))
        #expect(try filesUnder(directory) == [longest: Data("1".utf8), deepest: Data("2".utf8)])

        try expectRefused(RawZip.build([.file(longest + "n", "1")]), "has a name of 256 bytes; the limit is 255 bytes per name")
        // A two-byte character makes a 255-character name 256 bytes.
        try expectRefused(RawZip.build([.file(String(repeating: "n", count: 254) + "é", "1")]), "a name of 256 bytes")
        try expectRefused(RawZip.build([.file(deepest + "f", "1")]), "has a path of 1025 bytes; the limit is 1024 bytes")
        let huge = Array(repeating: "x", count: 2049).joined(separator: "/")
        try expectRefused(RawZip.build([.file(huge, "1")]), "has a path of 4097 bytes")
    }

    /// (entries, message)
    @Test(arguments: [
        ([RawZip.Entry.file("a/b", "1"), .file("a/b", "2")], "bundle entry a/b appears more than once"),
        ([.file("a", "1"), .file("a/b", "2")], "bundle entry a/b makes a both a file and a folder"),
        ([.file("a/b", "1"), .file("a", "2")], "bundle entry a makes a both a file and a folder"),
        ([.directory("a/"), .file("a", "2")], "bundle entry a makes a both a file and a folder"),
        ([.file("a", "1"), .directory("a/")], "bundle entry a/ makes a both a file and a folder"),
        ([.file("Model.py", "1"), .file("model.py", "2")], "bundle entry model.py and Model.py differ only in case or Unicode normalisation"),
        ([.file("src/x", "1"), .file("SRC/y", "2")], "bundle entry SRC/y and src differ only in case"),
        // "é" precomposed (NFC, macOS keeps names as given) and decomposed (NFD)
        ([.file("caf\u{E9}.txt", "1"), .file("cafe\u{301}.txt", "2")], "bundle entry cafe\u{301}.txt and caf\u{E9}.txt differ only in case or Unicode normalisation"),
        ([.file("dir/", "1")], "bundle entry dir/ is a file whose path ends in /"),
    ])
    func collidingNamesAreRefused(entries: [RawZip.Entry], message: String) throws {
        let refusal = try expectRefused(RawZip.build(entries))
        #expect(refusal.hasPrefix(message), "\(refusal)")
    }

    @Test func aFolderListedTwiceOrImpliedIsFine() throws {
        let sandbox = try Sandbox()
        let (_, directory) = try sandbox.extractor.extract(
            RawZip.build([.file("a/b/c", "1"), .directory("a/"), .directory("a/b/"), .directory("a/"), .file("a/d", "2")]))
        #expect(try filesUnder(directory) == ["a/b/c": Data("1".utf8), "a/d": Data("2".utf8)])
    }

    // MARK: - Links

    @Test func linksAreRefusedBeforeAnythingIsWritten() throws {
        let outside = "/tmp/tern-hostile-\(UUID().uuidString)"
        let cases: [[RawZip.Entry]] = [
            [.symlink("etc", to: "/etc/passwd")],
            // a chain escaping in two steps: each link alone stays inside
            [.directory("d/"), .symlink("d/up", to: ".."), .symlink("out", to: "d/up/..")],
            // write through a link extracted just before
            [.symlink("link", to: "/tmp"), .file("link/" + outside.dropFirst(5), "owned")],
            [.file("link/x", "first"), .symlink("link", to: "/tmp")],
            [.symlink("inside", to: "src/predictor.py")],
        ]
        for entries in cases {
            let message = try expectRefused(RawZip.build(valid + entries), "is a symbolic link; only regular files and folders are allowed")
            #expect(message.contains(entries.first { $0.mode == 0o120777 }.map { String(decoding: $0.name, as: UTF8.self) } ?? "?"))
        }
        #expect(!FileManager.default.fileExists(atPath: outside))
    }

    @Test func aLinkFromAnotherSystemIsAPlainFile() throws {
        // MS-DOS-made entries have no Unix type: a "link" is a file holding the target's name.
        var link = RawZip.Entry.symlink("data", to: "/etc/passwd")
        link.madeBy = 0
        let sandbox = try Sandbox()
        let (_, directory) = try sandbox.extractor.extract(RawZip.build([link]))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/data")
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect(try filesUnder(directory) == ["data": Data("/etc/passwd".utf8)])
    }

    /// ZIP has no hard-link entry (Info-ZIP stores a hard-linked file twice); the nearest thing
    /// is two entries sharing one local header and its data, which overlapping zip bombs use.
    @Test func entriesSharingDataAreRefused() throws {
        let kernel = try deflated(Array(repeating: 0, count: 1 << 20))
        var entries = [RawZip.Entry(name: Array("k0".utf8), data: kernel, method: 8, uncompressedSize: 1 << 20, crc: RawZip.crc32(Array(repeating: 0, count: 1 << 20)))]
        for index in 1..<200 {
            entries.append(RawZip.Entry(name: Array("k\(index)".utf8), sharesDataWith: 0))
        }
        let message = try expectRefused(RawZip.build(entries), "overlaps", "in the archive (entries sharing data, as in a zip bomb, are not allowed)")
        #expect(message.hasPrefix("bundle entry k"))
    }

    // MARK: - Counts and sizes

    @Test func aHundredThousandEntriesAreRefusedFromTheDeclaredCount() throws {
        let entries = (0..<100_000).map { RawZip.Entry.file("f/\($0)") }
        let zip = RawZip.build(entries)
        let took = try ContinuousClock().measure {
            _ = try expectRefused(zip, "the bundle has 100000 entries; the limit is 20000 entries")
        }
        print("[hostile] 100,000 entries (\(zip.count) bytes): refused in \(took)")
        #expect(took < .seconds(2))
    }

    @Test func anUploadOfJunkIsRefusedWithoutScanningIt() throws {
        let junk = Data(repeating: 0x41, count: 32 << 20)
        let took = try ContinuousClock().measure {
            _ = try expectRefused(junk, "the bundle is not a readable zip archive: no end-of-central-directory record in its last 65,557 bytes")
        }
        print("[hostile] 32 MiB of junk: refused in \(took)")
        #expect(took < .seconds(2))
    }

    @Test func aZipBombIsRefusedByItsRatioBeforeWriting() throws {
        let size = 32 << 20
        let zeros = [UInt8](repeating: 0, count: size)
        let zip = RawZip.build(valid + [RawZip.Entry(name: Array("bomb.bin".utf8), data: try deflated(zeros), method: 8, uncompressedSize: UInt32(size), crc: RawZip.crc32(zeros))])
        let sandbox = try Sandbox()
        var written: UInt64 = 0
        let took = try ContinuousClock().measure {
            #expect {
                try sandbox.extractor.extract(zip, written: &written)
            } throws: { error in
                (error as? BundleError)?.description
                    == "the bundle's \(zip.count) bytes expand to \(size + 16) bytes, more than 100 times its size (a zip bomb?); the limit applies above 16777216 bytes"
            }
        }
        print("[hostile] ratio bomb \(zip.count) bytes → \(size) bytes: refused in \(took), \(written) bytes written")
        #expect(written == 0)
        expectNothingWritten(sandbox)
        // The same bundle with the ratio check raised extracts.
        let lenient = BundleExtractor(bundlesDirectory: sandbox.bundles, limits: BundleLimits(maxCompressionRatio: 10_000))
        let (_, directory) = try lenient.extract(zip)
        #expect((try FileManager.default.attributesOfItem(atPath: directory + "/bomb.bin")[.size] as? NSNumber)?.intValue == size)
    }

    @Test func declaredSizesOverTheLimitAreRefusedBeforeWriting() throws {
        // Four entries declaring 4 GiB − 1 each: over the 1 GiB limit at the first, no overflow.
        let entries = (0..<4).map { RawZip.Entry(name: Array("big\($0)".utf8), data: [3, 0], method: 8, uncompressedSize: .max) }
        try expectRefused(RawZip.build(entries), "the bundle expands to more than 1073741824 bytes (at entry big0, which declares 4294967295 bytes)")
    }

    /// A zip bomb that lies: its header declares 10 bytes, its data inflates to 64 MiB of zeros.
    @Test func aBombThatUnderstatesItsSizeStopsAtTheDeclaredSize() throws {
        let chunk = try deflated([UInt8](repeating: 0, count: 64 << 20))
        let zip = RawZip.build([RawZip.Entry(name: Array("bomb.bin".utf8), data: chunk, method: 8, uncompressedSize: 10, crc: 0)])
        let sandbox = try Sandbox()
        var written: UInt64 = 0
        let took = try ContinuousClock().measure {
            #expect(throws: BundleError(description: "bundle entry bomb.bin expands past the 10 bytes it declares")) {
                try sandbox.extractor.extract(zip, written: &written)
            }
        }
        print("[hostile] lying bomb (\(zip.count) bytes, 64 MiB declared as 10): refused in \(took), \(written) bytes written")
        #expect(written == 0)  // the first 16 KiB chunk is already past 10 bytes
        #expect(took < .seconds(5))
        expectNothingWritten(sandbox)
    }

    @Test func aFileShorterThanItDeclaresIsRefusedAndTheStagingFolderRemoved() throws {
        let sandbox = try Sandbox()
        var written: UInt64 = 0
        let abc = Array("abc".utf8)
        let zip = RawZip.build(valid + [RawZip.Entry(name: Array("short.bin".utf8), data: try deflated(abc), method: 8, uncompressedSize: 1000, crc: RawZip.crc32(abc))])
        #expect(throws: BundleError(description: "bundle entry short.bin is corrupt: its size or CRC-32 does not match")) {
            try sandbox.extractor.extract(zip, written: &written)
        }
        #expect(written == 10 + 6 + 3)  // the two valid files and the short one were written, then removed
        expectNothingWritten(sandbox)
    }

    @Test func aStoredEntryDeclaringMoreThanItStoresIsRefused() throws {
        // Stored entries are read for their uncompressed size: this one would read the next entry.
        let zip = RawZip.build([RawZip.Entry(name: Array("short.bin".utf8), data: Array("abc".utf8), uncompressedSize: 40)] + valid)
        try expectRefused(zip, "bundle entry short.bin stores 3 bytes uncompressed but declares 40")
    }

    // MARK: - Damaged archives

    @Test func anEncryptedEntryIsRefused() throws {
        var secret = RawZip.Entry.file("secret.py", "x")
        secret.flags |= 1
        try expectRefused(RawZip.build(valid + [secret, .file("after.py", "y")]), "bundle entry secret.py is encrypted")
    }

    /// ZIPFoundation 0.9's in-memory reader traps (`Range requires lowerBound <= upperBound` in
    /// `Archive.MemoryFile.readData`) on a seek past the end: before ``ZipDirectory`` checked
    /// the offsets, these bundles crashed `tern serve` (found by ``BundleFuzzTests``).
    @Test(arguments: [UInt32(0x7FFF_FFFF), 0xFFFF_FFFF, 200])
    func aLocalHeaderOffsetPastTheEndIsRefusedWithoutCrashing(offset: UInt32) throws {
        var zip = RawZip.build(valid)
        let directory = try #require(zip.firstRange(of: Data([0x50, 0x4B, 0x01, 0x02]))).lowerBound
        for index in 0..<4 { zip[directory + 42 + index] = UInt8(truncatingIfNeeded: offset >> (8 * UInt32(index))) }
        try expectRefused(zip, "bundle entry tern.yaml has no local header where the central directory says (damaged archive)")
    }

    @Test func dataRunningIntoTheCentralDirectoryIsRefused() throws {
        var zip = RawZip.build(valid)
        let directory = try #require(zip.firstRange(of: Data([0x50, 0x4B, 0x01, 0x02]))).lowerBound
        // The second entry's compressed (and, stored, uncompressed) size: 0x7FFF in both headers.
        let second = try #require(zip[(directory + 4)...].firstRange(of: Data([0x50, 0x4B, 0x01, 0x02]))).lowerBound
        for field in [second + 20, second + 24] { zip[field + 1] = 0x7F }
        try expectRefused(zip, "bundle entry src/predictor.py has data running past the central directory (damaged archive)")
    }

    @Test func aDirectoryDeclaringMoreEntriesThanItHoldsIsRefused() throws {
        var zip = RawZip.build(valid)
        // The end record's two counts (at 8 and 10 of the last 22 bytes) say 3 instead of 2.
        zip[zip.count - 22 + 8] = 3
        zip[zip.count - 22 + 10] = 3
        try expectRefused(zip, "the bundle is not a readable zip archive: entry 3 of its central directory is damaged")
    }
}
