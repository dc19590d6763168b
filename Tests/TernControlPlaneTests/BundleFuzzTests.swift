import Foundation
import Testing
import TernTesting

@testable import TernControlPlane

/// A bounded, deterministic mutation fuzzer for ``BundleExtractor``, run in CI: seeds are valid
/// bundles (deflated by ZIPFoundation as `tern deploy` makes them, and stored ones with folders
/// and Unix modes built by ``RawZip``); each input is a seed mutated by bit flips, byte
/// overwrites, insertions, deletions, duplicated ranges, "interesting" values (0, all ones,
/// `..`, `/`, NUL, zip signatures) written anywhere, and zip-aware writes of those values into
/// a field of a local header or central directory record (sizes, offsets, name length, method,
/// flags, mode): the AFL/libFuzzer mutation set without coverage feedback, plus structure.
///
/// The property, for every input: extraction returns or throws a ``BundleError`` (no other
/// error, no crash) within 2 s, and afterwards the sandbox holds only the bundles folder and,
/// after a success, one bundle folder of regular files (mode 0644 or 0755) and folders (0755):
/// nothing outside it, no link, no staging folder left behind. The bundles folder is three
/// levels down the sandbox, so a `../..` escape would be seen.
///
/// `TERN_FUZZ_ITERATIONS` (default 2,000) and `TERN_FUZZ_SEED` (default 1) change the run; the
/// seed and iteration of a failing input are printed so it can be replayed.
@Suite struct BundleFuzzTests {
    /// The valid bundles mutations start from.
    static func seeds() throws -> [[UInt8]] {
        let model = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 4) }
        let deflatedProject = try makeZip([
            .file("tern.yaml", "- name: iris\n  kind: RealtimeAPI\n  predictor: {type: python, path: src/predictor.py}\n"),
            .directory("src/"),
            .file("src/predictor.py", "class PythonPredictor:\n    def predict(self, payload):\n        return 1\n"),
            .file("models/iris.bin", bytes: model),
            ZipEntry(path: "run.sh", data: Data("#!/bin/sh\n".utf8), permissions: 0o755),
        ])
        let stored = RawZip.build([
            .directory("a/"), .file("a/x.py", "print(1)\n"), .file("a/b/y.txt", "yy", mode: 0o100755),
            .file("z", String(repeating: "z", count: 300)),
        ])
        let single = try makeZip([.file("tern.yaml", "- name: a\n")])
        return [Array(deflatedProject), Array(stored), Array(single)]
    }

    /// Values that break parsers when written over a field or anywhere.
    static let interesting: [[UInt8]] = [
        [0], [0xFF], [0, 0], [0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0x7F], [0, 0, 0, 0],
        [1, 0, 0, 0], [0, 0x10, 0, 0], [0x2E, 0x2E, 0x2F], [0x2F], [0x5C], [0x00], [0x50, 0x4B, 0x01, 0x02],
        [0x50, 0x4B, 0x03, 0x04], [0x50, 0x4B, 0x05, 0x06], [0x50, 0x4B, 0x06, 0x06], [0x08, 0x00], [0x01, 0x08],
        [0xED, 0x41], [0xFF, 0xA1], [0xA4, 0x11], [0xA4, 0x21], [0xA4, 0x61], [0xED, 0xC1], [0x1E, 0x03],
    ]

    /// Offsets of the fields of one local header (signature PK\3\4) and one central directory
    /// record (PK\1\2) worth writing over (APPNOTE 4.3.7 and 4.3.12).
    static let localFields = [6, 8, 10, 12, 14, 18, 22, 26, 28]
    static let directoryFields = [4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 30, 32, 36, 38, 40, 42]

    /// One mutation of `input`.
    static func mutate(_ input: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            guard !bytes.isEmpty else {
                bytes = [UInt8.random(in: 0...255, using: &random)]
                continue
            }
            let position = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0:  // flip a bit
                bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1:  // a random byte
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 2:  // insert bytes
                bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: position)
            case 3:  // delete a range
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...32, using: &random)))
            case 4:  // duplicate a range elsewhere
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &random))
                bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &random))
            case 5:  // an interesting value anywhere
                overwrite(&bytes, at: position, with: interesting.randomElement(using: &random)!)
            default:  // an interesting value over a header field
                let signatures: [([UInt8], [Int])] = [([0x50, 0x4B, 0x03, 0x04], localFields), ([0x50, 0x4B, 0x01, 0x02], directoryFields)]
                let (signature, fields) = signatures.randomElement(using: &random)!
                let starts = (0..<max(0, bytes.count - 3)).filter { bytes[$0..<$0 + 4].elementsEqual(signature) }
                guard let start = starts.randomElement(using: &random) else { continue }
                overwrite(&bytes, at: start + fields.randomElement(using: &random)!, with: interesting.randomElement(using: &random)!)
            }
        }
        return bytes
    }

    private static func overwrite(_ bytes: inout [UInt8], at position: Int, with value: [UInt8]) {
        for (index, byte) in value.enumerated() where position + index < bytes.count { bytes[position + index] = byte }
    }

    /// What the sandbox holds that it should not, after an extraction into `bundles`; [] when
    /// all is well.
    static func problems(sandbox: String, bundles: String) -> [String] {
        let manager = FileManager.default
        var found: [String] = []
        let prefix = String(bundles.dropFirst(sandbox.count + 1))  // "a/b/bundles"
        for relative in treeUnder(sandbox) {
            let path = sandbox + "/" + relative
            let attributes = (try? manager.attributesOfItem(atPath: path)) ?? [:]
            let type = attributes[.type] as? FileAttributeType
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            if ["a", "a/b", prefix].contains(relative) { continue }
            guard relative.hasPrefix(prefix + "/") else {
                found.append("\(relative): outside the bundles folder")
                continue
            }
            let inside = relative.dropFirst(prefix.count + 1)
            if !BundleExtractor.isDigest(String(inside.prefix { $0 != "/" })) {
                found.append("\(relative): not in a bundle folder (a staging folder left behind?)")
            }
            switch type {
            case .typeDirectory? where mode == 0o755: break
            case .typeRegular? where mode == 0o644 || mode == 0o755: break
            default: found.append("\(relative): \(type?.rawValue ?? "?") mode \(String(mode, radix: 8))")
            }
        }
        return found
    }

    @Test func mutatedBundlesExtractOrAreRefusedWithoutWritingOutside() throws {
        let run = FuzzRun(defaultIterations: 2_000)
        let (iterations, seed) = (run.iterations, run.seed)
        let seeds = try Self.seeds()
        let sandbox = try TemporaryDirectory()
        let bundles = sandbox.path + "/a/b/bundles"
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        let extractor = BundleExtractor(bundlesDirectory: bundles)
        var random = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        let began = clock.now
        var extracted = 0
        var refusals: [String: Int] = [:]
        var slowest = Duration.zero
        for iteration in 0..<iterations {
            let input = Self.mutate(seeds.randomElement(using: &random)!, using: &random)
            let start = clock.now
            do {
                let (_, directory) = try extractor.extract(Data(input))
                extracted += 1
                let problems = Self.problems(sandbox: sandbox.path, bundles: bundles)
                #expect(problems.isEmpty, "seed \(seed), iteration \(iteration): \(problems.prefix(5))")
                try FileManager.default.removeItem(atPath: directory)
            } catch let error as BundleError {
                // The kind of refusal: the message up to its first detail.
                let kind = error.description.replacingOccurrences(of: "[0-9]+", with: "N", options: .regularExpression)
                    .split(separator: ":").first.map(String.init) ?? ""
                refusals[String(kind.prefix(60)), default: 0] += 1
                let problems = Self.problems(sandbox: sandbox.path, bundles: bundles)
                #expect(problems.isEmpty, "seed \(seed), iteration \(iteration): \(problems.prefix(5))")
            } catch {
                Issue.record("seed \(seed), iteration \(iteration): not a BundleError: \(error)")
                refusals["other errors", default: 0] += 1
                let problems = Self.problems(sandbox: sandbox.path, bundles: bundles)
                #expect(problems.isEmpty, "seed \(seed), iteration \(iteration): \(problems.prefix(5))")
            }
            let took = clock.now - start
            slowest = max(slowest, took)
            #expect(took < .seconds(2), "seed \(seed), iteration \(iteration) took \(took)")
        }
        let refused = refusals.values.reduce(0, +)
        print("[fuzz] bundle extractor: \(iterations) inputs (seed \(seed)) in \(clock.now - began): \(extracted) extracted, \(refused) refused, slowest \(slowest)")
        for (kind, count) in refusals.sorted(by: { $0.value > $1.value }).prefix(12) { print("[fuzz]   \(count) × \(kind)") }
        #expect(extracted + refused == iterations)
        #expect(extracted > 0 && refused > 0, "the mutations should give both valid and refused bundles")
    }
}
