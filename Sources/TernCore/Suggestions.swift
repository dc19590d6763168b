/// "Did you mean …?" for misspelt keys and values.
public enum Suggestions {
    /// The candidate closest to `word`, when it is close enough to be a likely typo: equal
    /// after ignoring case, `_` and `-` (`maxReplicas` → `max_replicas`), or within an edit
    /// distance of 2 (3 for words of 12 characters or more).
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let normalizedWord = normalize(word)
        let limit = normalizedWord.count <= 4 ? 1 : normalizedWord.count >= 12 ? 3 : 2
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(normalizedWord, normalize(candidate))
            if distance <= limit, distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// Levenshtein distance (insertions, deletions and substitutions each cost 1).
    public static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let lhs = Array(lhs)
        let rhs = Array(rhs)
        guard !lhs.isEmpty else { return rhs.count }
        guard !rhs.isEmpty else { return lhs.count }
        var previous = Array(0...rhs.count)
        var current = previous
        for i in 1...lhs.count {
            current[0] = i
            for j in 1...rhs.count {
                let substitution = previous[j - 1] + (lhs[i - 1] == rhs[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[rhs.count]
    }

    private static func normalize(_ word: String) -> String {
        String(word.lowercased().filter { $0 != "_" && $0 != "-" })
    }
}
