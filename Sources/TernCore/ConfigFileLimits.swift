internal import CYaml

/// The bounds a config file must stay within before it is composed into a YAML tree, so that a
/// hostile or broken `tern.yaml` costs bounded time and memory (docs/behaviour.md, "Limits").
///
/// Composing is where YAML is dangerous: Yams resolves an alias (`*name`) to the anchored node
/// itself, so a "billion laughs" file of a few hundred bytes is a tree of 10⁹ nodes for any code
/// that walks it, and Yams' own duplicate-key check hashes a mapping's keys recursively, so an
/// alias bomb used as a key (`? *lol9`) hangs inside `Yams.compose` already. ``check(_:)``
/// therefore runs libyaml's event parser (the parser Yams wraps) over the text first and counts
/// what composing would build, with each alias counted as the full size of the node it names
/// (sizes are remembered per anchor, so the count itself is linear in the file's length).
public struct ConfigFileLimits: Sendable, Equatable {
    /// Largest config file, in bytes. Default 1 MiB (1,048,576): a `tern.yaml` of 1,000 APIs is
    /// about 100 KiB; data belongs in the project's files.
    public var maxBytes: Int
    /// Deepest nesting of lists and mappings. Default 100 (a `tern.yaml` needs fewer than 10;
    /// libyaml's own limit is 1,000).
    public var maxDepth: Int
    /// Most YAML nodes (scalars, lists, mappings) once every alias is expanded. Default 100,000.
    public var maxNodes: Int

    /// The limits every loaded config file is held to.
    public static let standard = ConfigFileLimits()

    /// Creates limits; defaults as documented on each property.
    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 100, maxNodes: Int = 100_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    /// A bound the file exceeds: what to say and the 1-based line where it was passed.
    public struct Violation: Sendable, Equatable {
        /// The message, naming the limit and what to do.
        public var message: String
        /// 1-based line; nil for the file's size.
        public var line: Int?

        /// A violation saying `message` at `line` (1-based; nil for the file's size).
        public init(message: String, line: Int?) {
            self.message = message
            self.line = line
        }
    }

    /// The first bound `yaml` exceeds, or nil. Syntax errors are not reported here (the scan
    /// stops at them; `Yams.compose` reports them with their line).
    /// - Complexity: O(n) in the length of `yaml`, whatever its aliases expand to.
    public func check(_ yaml: String) -> Violation? {
        if let violation = checkSize(yaml.utf8.count) { return violation }
        var text = yaml
        return text.withUTF8 { bytes in scanEvents(bytes) }
    }

    /// The violation of ``maxBytes`` by a file of `bytes` bytes, or nil; for a file's size known
    /// before it is read.
    public func checkSize(_ bytes: Int) -> Violation? {
        guard bytes > maxBytes else { return nil }
        return Violation(
            message: "the file is \(bytes) bytes; a config file may be at most \(maxBytes) bytes "
                + "(keep data such as models and label lists in the project's files)",
            line: nil)
    }

    private func scanEvents(_ bytes: UnsafeBufferPointer<UInt8>) -> Violation? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        if let base = bytes.baseAddress {
            yaml_parser_set_input_string(&parser, base, bytes.count)
        } else {
            var empty: UInt8 = 0
            yaml_parser_set_input_string(&parser, &empty, 0)
        }
        /// Expanded size of each anchored node (the latest node of that name: anchors may shadow).
        var sizes: [String: Int] = [:]
        /// Open lists and mappings: their anchor and the node count when they opened.
        var open: [(anchor: String?, start: Int)] = []
        var nodes = 0
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_SCALAR_EVENT:
                nodes += 1
                if let anchor = Self.string(event.data.scalar.anchor) { sizes[anchor] = 1 }
            case YAML_ALIAS_EVENT:
                let anchor = Self.string(event.data.alias.anchor) ?? ""
                nodes += sizes[anchor] ?? 1
                if nodes > maxNodes {
                    return Violation(
                        message: "the alias *\(anchor) expands the file past \(maxNodes) values (an alias bomb?); "
                            + "a config file may hold at most \(maxNodes) values with every alias expanded",
                        line: line)
                }
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? Self.string(event.data.sequence_start.anchor) : Self.string(event.data.mapping_start.anchor)
                open.append((anchor, nodes))
                nodes += 1
                if open.count > maxDepth {
                    return Violation(
                        message: "lists and mappings nest more than \(maxDepth) levels deep here; "
                            + "a config file may nest at most \(maxDepth) levels (a tern.yaml needs fewer than 10)",
                        line: line)
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if let closed = open.popLast(), let anchor = closed.anchor { sizes[anchor] = nodes - closed.start }
            default:
                break
            }
            if nodes > maxNodes {
                return Violation(
                    message: "the file has more than \(maxNodes) values; a config file may hold at most \(maxNodes)",
                    line: line)
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }
}
