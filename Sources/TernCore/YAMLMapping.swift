import Yams

/// A mapping of the config as ``YAMLReader`` reads it: its entries (merge keys applied) and
/// where it is.
struct YAMLMapping {
    /// One key and its value.
    struct Entry {
        let key: String
        let keyLine: Int?
        let value: Node
    }

    /// Key path of the mapping itself, "" for the API entry.
    let path: String
    /// Line of the mapping's key, or of the mapping itself.
    let line: Int?
    /// Entries in file order.
    let entries: [Entry]

    /// The entry of `key`, null or not.
    func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// The value of `key`, nil when absent or null.
    func value(_ key: String) -> Node? {
        guard let value = entry(key)?.value else { return nil }
        if case .scalar(let scalar) = value, scalar.tagName == .null { return nil }
        return value
    }

    /// Whether `key` has a non-null value.
    func has(_ key: String) -> Bool {
        value(key) != nil
    }

    /// The key path of `key` inside this mapping.
    func path(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Line of `key`, or of the mapping when the key is absent.
    func line(_ key: String) -> Int? {
        entry(key)?.keyLine ?? line
    }

    /// Line of the value of `key` when it is a scalar, else of the key.
    func valueLine(_ key: String) -> Int? {
        if case .scalar(let scalar) = entry(key)?.value, let line = scalar.mark?.line { return line }
        return line(key)
    }
}
