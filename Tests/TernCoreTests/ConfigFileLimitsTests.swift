import Foundation
import TernCore
import Testing

/// Hostile config files (alias bombs, deep nesting, huge files, many keys, bad bytes) are
/// refused with one clear issue naming the file and line, fast and without composing a huge tree.
@Suite struct ConfigFileLimitsTests {
    /// "Billion laughs": 9 levels of 10 aliases each, 10⁹ values once expanded, 1 KB of text.
    private static func billionLaughs(asKey: Bool = false) -> String {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("a\(level): &a\(level) [\(refs)]")
        }
        lines.append(asKey ? "? *a9\n: boom" : "bomb: *a9")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs `body` and returns its result and how long it took.
    private func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let value = try body()
        return (value, clock.now - start)
    }

    @Test func billionLaughsIsRefusedAtTheAliasThatPassesTheLimit() {
        let (issues, took) = timed { configIssues(Self.billionLaughs()) }
        // a0…a3 expand to 11, 111, 1,111 and 11,111 values; the *a3 aliases of a4 (line 5) pass 100,000.
        #expect(
            issues == [
                "tern.yaml:5: the alias *a3 expands the file past 100000 values (an alias bomb?); "
                    + "a config file may hold at most 100000 values with every alias expanded"
            ])
        #expect(took < .seconds(5))
    }

    @Test func aliasBombAsAMappingKeyIsRefusedBeforeYamsHashesIt() {
        // Yams' duplicate-key check hashes keys recursively: composing this would not end.
        let (issues, took) = timed { configIssues(Self.billionLaughs(asKey: true)) }
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix("tern.yaml:5: the alias *a3 expands the file past 100000 values") == true, "\(issues)")
        #expect(took < .seconds(5))
    }

    @Test func aliasesWithinTheLimitStillWork() throws {
        let yaml = """
            - name: a
              kind: RealtimeAPI
              predictor: &p {type: python, path: predictor.py, config: {labels: &l [x, y, z]}}
            - name: b
              kind: RealtimeAPI
              predictor: *p

            """
        let config = try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml")
        #expect(config.apis.map(\.name) == ["a", "b"])
        #expect(config.apis[0].predictor == config.apis[1].predictor)
    }

    @Test func tenThousandLevelsOfFlowNestingAreRefusedAtTheLimit() {
        // libyaml's scanner reads ahead through the flow brackets (each could open a simple key), so
        // its own limit of 1,000 levels is met before the event scan reaches 100: one syntax error.
        let yaml = "- name: deep\n  x: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let (issues, took) = timed { configIssues(yaml) }
        #expect(
            issues == [
                "tern.yaml:2: YAML syntax error: the file nests lists or mappings more than 1,000 levels deep "
                    + "(libyaml's limit); a tern.yaml needs fewer than 10"
            ])
        #expect(took < .seconds(5))
    }

    @Test func blockNestingReportsTheLineWhereItPassesTheLimit() {
        // Line 1 opens the list (level 1) and the first mapping (level 2); line k opens level k+1.
        var yaml = "- a:\n"
        for level in 1..<150 { yaml += String(repeating: " ", count: 2 * level + 2) + "k\(level):\n" }
        yaml += String(repeating: " ", count: 302) + "v\n"
        let issues = configIssues(yaml)
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix("tern.yaml:100: lists and mappings nest more than 100 levels") == true)
    }

    @Test func fiftyMegabyteTextIsRefusedBySize() {
        let yaml = String(repeating: "# padding line of a huge file\n", count: 50 * 1024 * 1024 / 30)
        let (issues, took) = timed { configIssues(yaml) }
        #expect(
            issues == [
                "tern.yaml: the file is \(yaml.utf8.count) bytes; a config file may be at most 1048576 bytes "
                    + "(keep data such as models and label lists in the project's files)"
            ])
        #expect(took < .seconds(5))
    }

    @Test func fiftyMegabyteFileIsRefusedBeforeItIsRead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tern-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(FileManager.default.createFile(atPath: url.path, contents: nil))
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 50 << 20)  // sparse: 50 MiB of NULs, not written
        try handle.close()
        let (error, took) = timed { () -> ConfigError? in
            do {
                _ = try ConfigLoader.load(fileAt: url)
                return nil
            } catch let error as ConfigError { return error } catch { return nil }
        }
        #expect(
            error?.description
                == "\(url.lastPathComponent): the file is 52428800 bytes; a config file may be at most 1048576 bytes "
                + "(keep data such as models and label lists in the project's files)")
        #expect(took < .seconds(2))
    }

    @Test func exactlyTheLimitsLoadAndOneMoreIsRefused() {
        let limits = ConfigFileLimits(maxBytes: 1000, maxDepth: 3, maxNodes: 10)
        // [a, [b, [c]]]: 3 levels; 6 nodes.
        #expect(limits.check("[a, [b, [c]]]") == nil)
        #expect(limits.check("[a, [b, [[c]]]]")?.message.hasPrefix("lists and mappings nest more than 3") == true)
        // 1 list + 9 scalars = 10 nodes; one more is 11.
        #expect(limits.check("[1, 2, 3, 4, 5, 6, 7, 8, 9]") == nil)
        #expect(
            limits.check("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")
                == .init(message: "the file has more than 10 values; a config file may hold at most 10", line: 1))
        // An alias counts as the size of what it names: &x [a, b] is 3 nodes, *x 3 more.
        #expect(limits.check("[&x [a, b], *x, *x]") == nil)  // 1 + 3 + 3 + 3
        #expect(limits.check("[&x [a, b], *x, *x, *x]")?.message.hasPrefix("the alias *x expands") == true)
        #expect(limits.check(String(repeating: "#", count: 1000)) == nil)
        #expect(limits.check(String(repeating: "#", count: 1001))?.line == nil)
    }

    @Test func manyKeysAreReportedInBoundedTime() {
        // 20,000 unknown keys in one API (40,000 values): every one reported, quickly.
        let keys = (0..<20_000).map { "  key\($0): 1" }.joined(separator: "\n")
        let (issues, took) = timed { configIssues(realtimeAPI("many", keys)) }
        #expect(issues.count == 20_000)
        #expect(issues.first?.hasPrefix("tern.yaml:4: api \"many\": key0: unknown key") == true)
        #expect(took < .seconds(30))
    }

    @Test func invalidUTF8IsRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tern-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data([0x2d, 0x20, 0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).write(to: url)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(fileAt: url) }
        do {
            _ = try ConfigLoader.load(fileAt: url)
        } catch {
            #expect(error.description == "\(url.lastPathComponent): the file is not UTF-8 text")
        }
    }

    @Test func tabIndentationIsASyntaxErrorWithItsLine() {
        let issues = configIssues("- name: iris\n\tkind: RealtimeAPI\n")
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix("tern.yaml:2: YAML syntax error") == true)
    }

    @Test func duplicateKeysAreRefused() {
        let issues = configIssues("- name: a\n  name: b\n  kind: RealtimeAPI\n")
        #expect(issues == ["tern.yaml:1: YAML error: the key \"name\" appears more than once in the same mapping"])
    }
}
