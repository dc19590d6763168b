/// Which project files stay out of a deploy: `.ternignore` (or Cortex's `.cortexignore`) in
/// gitignore syntax, plus Tern's own exclusions.
///
/// Supported syntax, as in git:
/// - blank lines and lines starting with `#` are skipped (`\#` matches a literal `#`);
///   trailing spaces are dropped unless escaped (`\ `);
/// - `*` matches anything but `/`, `?` one character but `/`, `[a-z]`, `[!0-9]` and `[^…]` a
///   character class, `\` escapes the next character;
/// - a pattern with no `/` but a trailing one matches a name at any depth (`*.log`, `build/`);
///   with a `/` at the start or in the middle it is relative to the project root (`/dist`,
///   `docs/*.md`);
/// - `**/` matches in every directory, `/**` everything inside, `/**/` zero or more directories;
/// - a trailing `/` matches directories only;
/// - `!` re-includes what an earlier pattern excluded (`\!` for a literal `!`); the last
///   matching pattern wins, and a file whose parent directory is excluded stays excluded.
///
/// Tern's exclusions (``defaultPatterns``: dot-files and dot-directories, `__pycache__`,
/// `*.pyc`) always apply: a `!` pattern cannot re-include them.
///
/// ```swift
/// let rules = IgnoreRules(patterns: "data/\n*.csv\n!keep.csv")
/// rules.isIgnored("data/train.csv", isDirectory: false)  // true (data/ is excluded)
/// rules.isIgnored("keep.csv", isDirectory: false)        // false
/// rules.isIgnored(".env", isDirectory: false)            // true (default exclusion)
/// ```
public struct IgnoreRules: Sendable, Equatable {
    /// Tern's own exclusions, in gitignore syntax: dot-files and dot-directories (`.git`,
    /// `.venv`, `.env`, `.ternignore`), Python bytecode caches and compiled files.
    public static let defaultPatterns = """
        .*
        __pycache__/
        *.pyc
        """

    private let rules: [Rule]
    private let defaultRules: [Rule]

    /// Compiles `patterns` (the contents of an ignore file); Tern's ``defaultPatterns`` apply
    /// on top.
    public init(patterns: String) {
        rules = Self.compile(patterns)
        defaultRules = Self.compile(Self.defaultPatterns)
    }

    /// Whether `relativePath` (relative to the project root, `/`-separated, e.g.
    /// `models/iris.pkl`) is left out of the deploy; `isDirectory` tells whether it names a
    /// directory. A path is also ignored when one of its parent directories is.
    public func isIgnored(_ relativePath: String, isDirectory: Bool) -> Bool {
        let components = relativePath.split(separator: "/").filter { $0 != "." }.map(String.init)
        guard !components.isEmpty else { return false }
        for end in 1..<components.count where matches(Array(components[..<end]), isDirectory: true) {
            return true
        }
        return matches(components, isDirectory: isDirectory)
    }

    private func matches(_ components: [String], isDirectory: Bool) -> Bool {
        Self.evaluate(defaultRules, components, isDirectory) || Self.evaluate(rules, components, isDirectory)
    }

    /// The outcome of the last rule that matches (false when none does).
    private static func evaluate(_ rules: [Rule], _ components: [String], _ isDirectory: Bool) -> Bool {
        var ignored = false
        for rule in rules where rule.negated == ignored && rule.matches(components, isDirectory: isDirectory) {
            ignored = !rule.negated
        }
        return ignored
    }

    // MARK: Compiling patterns

    private static func compile(_ text: String) -> [Rule] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).compactMap { Rule(line: String($0)) }
    }

    /// One line of an ignore file.
    private struct Rule: Sendable, Equatable {
        /// `!pattern`.
        var negated = false
        /// `pattern/`.
        var directoryOnly = false
        /// The pattern split at `/`; `**` segments stay as they are.
        var segments: [[Token]] = []

        init?(line: String) {
            var pattern = Substring(line)
            // Trailing spaces go unless escaped.
            while pattern.last == " ", !pattern.dropLast().hasSuffix("\\") { pattern = pattern.dropLast() }
            if pattern.isEmpty || pattern.hasPrefix("#") { return nil }
            if pattern.hasPrefix("!") {
                negated = true
                pattern = pattern.dropFirst()
            }
            if pattern.hasSuffix("/") {
                directoryOnly = true
                pattern = pattern.dropLast()
            }
            // A slash at the start or in the middle anchors the pattern at the root.
            let anchored = pattern.contains("/")
            if pattern.hasPrefix("/") { pattern = pattern.dropFirst() }
            guard !pattern.isEmpty else { return nil }
            segments = pattern.split(separator: "/", omittingEmptySubsequences: false).map { Token.parse($0) }
            if !anchored { segments.insert([.anyDirectories], at: 0) }
        }

        func matches(_ components: [String], isDirectory: Bool) -> Bool {
            if directoryOnly && !isDirectory { return false }
            return Self.match(segments[...], components[...])
        }

        /// Segment-wise match; a `**` segment takes zero or more components (one or more at the end).
        private static func match(_ segments: ArraySlice<[Token]>, _ components: ArraySlice<String>) -> Bool {
            guard let segment = segments.first else { return components.isEmpty }
            if segment == [.anyDirectories] {
                let rest = segments.dropFirst()
                let minimum = rest.isEmpty ? 1 : 0
                guard components.count >= minimum else { return false }
                return (minimum...components.count).contains { match(rest, components.dropFirst($0)) }
            }
            guard let component = components.first, Token.match(segment[...], Array(component)[...]) else {
                return false
            }
            return match(segments.dropFirst(), components.dropFirst())
        }
    }

    /// A piece of one path segment of a pattern.
    private enum Token: Sendable, Equatable {
        case literal(Character)
        /// `?`
        case anyCharacter
        /// `*`
        case anyRun
        /// `**` as a whole segment.
        case anyDirectories
        /// `[…]`: ranges (single characters are ranges of one), negated with `!` or `^`.
        case characterClass(ranges: [ClosedRange<Character>], negated: Bool)

        static func parse(_ segment: Substring) -> [Token] {
            if segment == "**" { return [.anyDirectories] }
            var tokens: [Token] = []
            var characters = Array(segment)[...]
            while let character = characters.popFirst() {
                switch character {
                case "\\": tokens.append(.literal(characters.popFirst() ?? "\\"))
                case "?": tokens.append(.anyCharacter)
                case "*":
                    while characters.first == "*" { characters.removeFirst() }
                    tokens.append(.anyRun)
                case "[":
                    if let (token, rest) = parseClass(characters) {
                        tokens.append(token)
                        characters = rest
                    } else {
                        tokens.append(.literal("["))
                    }
                default: tokens.append(.literal(character))
                }
            }
            return tokens
        }

        /// Parses after `[`; nil when the class is not closed (then `[` is literal).
        private static func parseClass(_ input: ArraySlice<Character>) -> (Token, ArraySlice<Character>)? {
            var characters = input
            let negated = characters.first == "!" || characters.first == "^"
            if negated { characters.removeFirst() }
            var ranges: [ClosedRange<Character>] = []
            var isFirst = true
            while let character = characters.popFirst() {
                if character == "]" && !isFirst {
                    return (.characterClass(ranges: ranges, negated: negated), characters)
                }
                isFirst = false
                let low = character == "\\" ? (characters.popFirst() ?? "\\") : character
                if characters.first == "-", characters.count >= 2, characters.dropFirst().first != "]" {
                    characters.removeFirst()
                    var high = characters.removeFirst()
                    if high == "\\" { high = characters.popFirst() ?? "\\" }
                    if low <= high { ranges.append(low...high) }
                } else {
                    ranges.append(low...low)
                }
            }
            return nil
        }

        /// Matches one path component against the tokens of one segment.
        static func match(_ tokens: ArraySlice<Token>, _ characters: ArraySlice<Character>) -> Bool {
            guard let token = tokens.first else { return characters.isEmpty }
            switch token {
            case .anyRun, .anyDirectories:
                return (0...characters.count).contains { match(tokens.dropFirst(), characters.dropFirst($0)) }
            case .anyCharacter:
                return !characters.isEmpty && match(tokens.dropFirst(), characters.dropFirst())
            case .literal(let literal):
                return characters.first == literal && match(tokens.dropFirst(), characters.dropFirst())
            case .characterClass(let ranges, let negated):
                guard let character = characters.first else { return false }
                return ranges.contains { $0.contains(character) } != negated
                    && match(tokens.dropFirst(), characters.dropFirst())
            }
        }
    }
}
