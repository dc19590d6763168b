import TernCore
import Testing

@Suite struct IgnoreRulesTests {
    /// (patterns, path, isDirectory, ignored)
    @Test(arguments: [
        // A name at any depth.
        ("*.log", "a.log", false, true), ("*.log", "logs/deep/b.log", false, true),
        ("*.log", "a.log.txt", false, false),
        // Directories only.
        ("build/", "build", true, true), ("build/", "build", false, false), ("build/", "src/build", true, true),
        ("build/", "build/out.py", false, true),
        // Anchored at the root.
        ("/dist", "dist", true, true), ("/dist", "src/dist", true, false), ("docs/*.md", "docs/a.md", false, true),
        ("docs/*.md", "docs/sub/a.md", false, false), ("docs/*.md", "x/docs/a.md", false, false),
        // Double stars.
        ("**/tmp", "tmp", true, true), ("**/tmp", "a/b/tmp", false, true), ("data/**", "data/x.csv", false, true),
        ("data/**", "data/a/b.csv", false, true), ("data/**", "data", true, false), ("a/**/b", "a/b", false, true),
        ("a/**/b", "a/x/y/b", false, true), ("a/**/b", "c/a/b", false, false),
        // ? and character classes.
        ("file?.txt", "file1.txt", false, true), ("file?.txt", "file10.txt", false, false),
        ("file?.txt", "file.txt", false, false), ("[abc].txt", "b.txt", false, true),
        ("[abc].txt", "d.txt", false, false),
        ("[!a].txt", "a.txt", false, false), ("[!a].txt", "b.txt", false, true), ("[^a].txt", "b.txt", false, true),
        ("model-[0-9].pkl", "model-7.pkl", false, true), ("model-[0-9].pkl", "model-x.pkl", false, false),
        ("[unclosed", "[unclosed", false, true),
        // Negation; last match wins; an excluded directory cannot be re-entered.
        ("*.csv\n!keep.csv", "keep.csv", false, false), ("*.csv\n!keep.csv", "other.csv", false, true),
        ("!keep.csv\n*.csv", "keep.csv", false, true), ("data/\n!data/keep.csv", "data/keep.csv", false, true),
        ("*\n!*/\n!*.py", "src/main.py", false, false), ("*\n!*/\n!*.py", "src/notes.txt", false, true),
        // Comments, blank lines, escapes, trailing spaces, CRLF, ./ prefixes.
        ("# comment\n\n", "comment", false, false), ("\\#file", "#file", false, true),
        ("\\!important", "!important", false, true),
        ("foo   ", "foo", false, true), ("foo\\ ", "foo ", false, true), ("*.log\r\n*.tmp\r\n", "a.tmp", false, true),
        ("*.log", "./a.log", false, true), ("", "src/predictor.py", false, false),
    ])
    func gitignorePatternsMatchAsGitDoes(patterns: String, path: String, isDirectory: Bool, ignored: Bool) {
        #expect(IgnoreRules(patterns: patterns).isIgnored(path, isDirectory: isDirectory) == ignored)
    }

    @Test(arguments: [
        (".env", false), (".git", true), (".git/config", false), (".venv/lib/x.py", false), (".ternignore", false),
        ("src/__pycache__", true), ("src/__pycache__/m.cpython-311.pyc", false), ("a.pyc", false),
        ("pkg/.hidden/file.py", false),
    ])
    func ternDefaultsExcludeDotFilesAndBytecode(path: String, isDirectory: Bool) {
        #expect(IgnoreRules(patterns: "").isIgnored(path, isDirectory: isDirectory))
    }

    @Test func defaultsCannotBeReIncluded() {
        let rules = IgnoreRules(patterns: "!.env\n!*.pyc")
        #expect(rules.isIgnored(".env", isDirectory: false))
        #expect(rules.isIgnored("a.pyc", isDirectory: false))
        #expect(!rules.isIgnored("predictor.py", isDirectory: false))
    }

    @Test func defaultPatternsAreExposed() {
        #expect(IgnoreRules.defaultPatterns.split(separator: "\n") == [".*", "__pycache__/", "*.pyc"])
    }
}
