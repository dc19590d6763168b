import Yams

/// A scalar type ``YAMLReader/read(_:in:)`` can read, and how a message names it.
protocol YAMLScalar {
    /// E.g. `an integer`.
    static var yamlDescription: String { get }
    /// The value of `scalar`, or nil when it is of another type.
    init?(yaml scalar: Node.Scalar)
}

extension Int: YAMLScalar {
    static var yamlDescription: String { "an integer" }
    init?(yaml scalar: Node.Scalar) {
        guard scalar.tagName == .int, let value = Int.construct(from: scalar) else { return nil }
        self = value
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
