/// A JSON value: what `predictor.config` holds and what the predictor's `__init__` receives.
///
/// YAML maps to it one to one: mappings become objects (keys as strings), sequences arrays,
/// integers and floats numbers, booleans and null themselves; any other scalar (a date, say)
/// stays the string it was written as. Integers are kept exactly: ``ConfigLoader`` rejects
/// integers beyond ±2^53, which a `Double` cannot hold exactly.
///
/// `Codable` reads and writes plain JSON (`{"k": [1, "a", true, null]}`), with integral numbers
/// written without a fraction.
public enum JSONValue: Sendable, Equatable, Codable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number; integers up to ±2^53 are exact.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// The empty object, `{}`: the default of `predictor.config`.
    public static let emptyObject = JSONValue.object([:])

    /// Largest integer magnitude a `Double` holds exactly (2^53).
    static let maxExactInteger: Double = 9_007_199_254_740_992

    /// Decodes plain JSON.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    /// Encodes as plain JSON; integral numbers are written as integers.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) <= Self.maxExactInteger {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
