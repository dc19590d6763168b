import Foundation
import TernCore
import TernTesting
import Testing

/// A bounded, deterministic mutation fuzzer for the config loader (YAML → `ProjectConfig`), run in
/// CI: seeds are the examples' `tern.yaml` files and the hostile shapes of
/// ``ConfigFileLimitsTests``; each input is a seed mutated by byte flips, deletions,
/// duplications, splices with another seed and insertions from a dictionary of YAML tokens and
/// Tern keys (the AFL/libFuzzer mutation set, without coverage feedback). The property: loading
/// returns a config or throws a ``ConfigError`` whose every issue has a message, within 2 s per
/// input; a crash (trap, stack overflow) fails the whole test run.
///
/// `TERN_FUZZ_ITERATIONS` (default 3,000) and `TERN_FUZZ_SEED` (default 1) change the run; the
/// seed of a failing input is printed so it can be replayed.
@Suite struct ConfigFuzzTests {
    /// YAML syntax and Tern keys that mutations insert.
    static let dictionary: [String] = [
        "&a ", "*a", "<<: *a\n", "? ", ": ", "- ", "[", "]", "{", "}", ",", "\n", "\n  ", "\t", "#", "'", "\"",
        "!!str ", "!!int ", "!!binary ", "!custom ", "%YAML 1.1\n", "---\n", "...\n", "|\n  ", ">-\n  ", "~", "null",
        ".inf", "-.inf", ".nan", "0x1F", "0o17", "1e999", "-0", "99999999999999999999999", "true", "yes", "\u{0}",
        "\u{FEFF}", "é", "name: ", "kind: RealtimeAPI\n", "kind: BatchAPI\n", "kind: TrafficSplitter\n", "predictor:\n",
        "  type: python\n", "  path: predictor.py\n", "compute:\n  cpu: ", "  mem: 1Gi\n", "autoscaling:\n",
        "  min_replicas: ", "  max_replicas: ", "  target_replica_concurrency: ", "networking:\n  endpoint: /",
        "server_side_batching:\n  max_batch_size: ", "  batch_interval: 2ms\n", "apis:\n", "config:\n", "models:\n",
    ]

    /// The examples' `tern.yaml` files and hostile shapes.
    static func seeds() throws -> [[UInt8]] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let examples = root.appendingPathComponent("examples")
        var seeds: [[UInt8]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: examples.path).sorted() {
            let file = examples.appendingPathComponent(name).appendingPathComponent("tern.yaml")
            if let data = FileManager.default.contents(atPath: file.path) { seeds.append(Array(data)) }
        }
        var bomb = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 { bomb.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]") }
        seeds.append(Array((bomb.joined(separator: "\n") + "\nbomb: *a9\n").utf8))
        seeds.append(Array(("- x: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "\n").utf8))
        seeds.append(Array("- name: a\n  kind: RealtimeAPI\n  predictor: &p {type: python, path: p.py}\n- name: b\n  kind: RealtimeAPI\n  predictor: *p\n".utf8))
        return seeds
    }

    /// One mutation of `input` (possibly splicing `other`).
    static func mutate(_ input: [UInt8], other: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let index = min(position, bytes.count - 1)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty:  // delete a range
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &random))
                bytes.removeSubrange(min(position, end)..<end)
            case 2 where !bytes.isEmpty:  // duplicate a range elsewhere
                let start = Int.random(in: 0..<bytes.count, using: &random)
                let end = min(bytes.count, start + Int.random(in: 1...128, using: &random))
                bytes.insert(contentsOf: bytes[start..<end], at: position)
            case 3 where !other.isEmpty:  // splice in part of another seed
                let start = Int.random(in: 0..<other.count, using: &random)
                let end = min(other.count, start + Int.random(in: 1...256, using: &random))
                bytes.insert(contentsOf: other[start..<end], at: position)
            case 4:  // a random byte
                bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
            default:  // a dictionary token
                bytes.insert(contentsOf: Array(dictionary.randomElement(using: &random)!.utf8), at: position)
            }
        }
        return bytes
    }

    @Test func mutatedConfigFilesLoadOrFailWithMessagesInBoundedTime() throws {
        let run = FuzzRun(defaultIterations: 3_000)
        let (iterations, seed) = (run.iterations, run.seed)
        let seeds = try Self.seeds()
        #expect(seeds.count >= 8, "examples/*/tern.yaml not found")
        var random = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        var loaded = 0
        var refused = 0
        var slowest = Duration.zero
        for iteration in 0..<iterations {
            let input = Self.mutate(
                seeds.randomElement(using: &random)!, other: seeds.randomElement(using: &random)!, using: &random)
            let text = String(decoding: input, as: UTF8.self)
            let start = clock.now
            do {
                _ = try ConfigLoader.load(yaml: text, fileName: "tern.yaml")
                loaded += 1
            } catch {
                refused += 1
                #expect(!error.issues.isEmpty && error.issues.allSatisfy { !$0.message.isEmpty }, "seed \(seed), iteration \(iteration)")
            }
            let took = clock.now - start
            slowest = max(slowest, took)
            #expect(took < .seconds(2), "seed \(seed), iteration \(iteration) took \(took): \(text.prefix(200))")
        }
        print("[fuzz] config loader: \(iterations) inputs (seed \(seed)): \(loaded) loaded, \(refused) refused, slowest \(slowest)")
        #expect(loaded + refused == iterations)
        #expect(refused > 0 && loaded > 0, "the mutations should produce both valid and invalid files")
    }
}
