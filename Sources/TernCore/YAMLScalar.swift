import Yams

/// A scalar type ``YAMLReader/read(_:in:)`` can read, and how a message names it.
protocol YAMLScalar {
    /// E.g. `an integer`.
    static var yamlDescription: String { get }
    /// The value of `scalar`, or nil when it is of another type.
    init?(yaml scalar: Node.Scalar)
    /// Whether `scalar` is of this type but beyond what it can hold (`99999999999999999999999`
    /// as an integer, `1e400` or `.inf` as a number), so a message says "out of range" rather
    /// than "expected an integer, got integer …".
    static func isOutOfRange(_ scalar: Node.Scalar) -> Bool
}

extension YAMLScalar {
    static func isOutOfRange(_ scalar: Node.Scalar) -> Bool { false }
}

extension Int: YAMLScalar {
    static var yamlDescription: String { "an integer" }
    init?(yaml scalar: Node.Scalar) {
        guard scalar.tagName == .int, let value = Int.construct(from: scalar) else { return nil }
        self = value
    }
    static func isOutOfRange(_ scalar: Node.Scalar) -> Bool {
        scalar.tagName == .int && Int.construct(from: scalar) == nil
    }
}

extension Double: YAMLScalar {
    static var yamlDescription: String { "a number" }
    init?(yaml scalar: Node.Scalar) {
        guard [.int, .float].contains(scalar.tagName), let value = Double.construct(from: scalar), value.isFinite else {
            return nil
        }
        self = value
    }
    static func isOutOfRange(_ scalar: Node.Scalar) -> Bool {
        guard [.int, .float].contains(scalar.tagName), let value = Double.construct(from: scalar) else { return false }
        return value.isInfinite
    }
}

extension Bool: YAMLScalar {
    static var yamlDescription: String { "true or false" }
    init?(yaml scalar: Node.Scalar) {
        guard scalar.tagName == .bool, let value = Bool.construct(from: scalar) else { return nil }
        self = value
    }
}

extension String: YAMLScalar {
    static var yamlDescription: String { "a string" }
    init?(yaml scalar: Node.Scalar) {
        guard scalar.tagName == .str else { return nil }
        self = scalar.string
    }
}

extension Node.Scalar {
    /// The scalar's resolved tag (`!!int`, `!!str`, …): plain scalars resolved by the default
    /// resolver, quoted ones are strings.
    var tagName: Tag.Name {
        Tag.Name(rawValue: Node.scalar(self).tag.rawValue)
    }
}
