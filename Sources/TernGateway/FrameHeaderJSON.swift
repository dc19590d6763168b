import NIOCore

/// Reading and writing the JSON headers of replica frames directly on bytes, without
/// Foundation's `JSONDecoder` or an intermediate `String`: the request path does this twice per
/// prediction (docs/benchmarks.md, optimisation log).
///
/// The reader accepts RFC 8259 JSON. Where Foundation's decoder gives a value for valid JSON
/// the reader gives the same value: the first of duplicated keys wins, an integer field accepts
/// an integral number written with a fraction or exponent (`200.0`, `2e2`), unknown keys are
/// skipped whatever their value (their strings' escapes are not checked, as in Foundation), and
/// a string that is read must not hold raw control characters. Documents Foundation tolerated
/// although they are not JSON (trailing commas, `01`, a bare `-`) are rejected, which the gateway
/// answers as an unreadable header, as before.
public enum FrameHeaderJSON {
    /// Why a header could not be read; `offset` is the byte where reading stopped.
    public struct SyntaxError: Error, CustomStringConvertible, Equatable {
        /// Byte offset in the header where reading stopped.
        public var offset: Int
        /// What was wrong there.
        public var reason: String
        /// The offset and the reason, in one line.
        public var description: String { "invalid frame header JSON at byte \(offset): \(reason)" }
    }

    /// A cursor over the bytes of one JSON document.
    ///
    /// Reading methods consume one value (and the whitespace before it) and throw
    /// ``SyntaxError`` on anything that is not JSON of the asked type.
    struct Reader: ~Copyable {
        private let bytes: UnsafeRawBufferPointer
        private(set) var offset = 0

        /// A reader at the first byte of `bytes`, which must outlive it.
        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        private func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: offset, reason: reason) }

        private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        private mutating func skipWhitespace() {
            while offset < bytes.count {
                switch bytes[offset] {
                case 0x20, 0x09, 0x0A, 0x0D: offset += 1
                default: return
                }
            }
        }

        /// The next non-whitespace byte, not consumed.
        private mutating func peek() -> UInt8? {
            skipWhitespace()
            return current
        }

        private mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            guard peek() == byte else { throw fail("expected \(what)") }
            offset += 1
        }

        /// Checks that only whitespace (or a UTF-8 byte-order mark first) is left.
        mutating func finish() throws(SyntaxError) {
            guard peek() == nil else { throw fail("unexpected bytes after the document") }
        }

        /// Skips a UTF-8 byte-order mark at the start (Foundation accepts one).
        mutating func skipByteOrderMark() {
            if bytes.count - offset >= 3, bytes[offset] == 0xEF, bytes[offset + 1] == 0xBB, bytes[offset + 2] == 0xBF {
                offset += 3
            }
        }

        /// Consumes `null` if it comes next; true if it did.
        mutating func readNull() throws(SyntaxError) -> Bool {
            guard peek() == UInt8(ascii: "n") else { return false }
            try literal("null")
            return true
        }

        private mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - offset >= count else { throw fail("expected \(word)") }
            for index in 0..<count where bytes[offset + index] != word.utf8Start[index] {
                throw fail("expected \(word)")
            }
            offset += count
        }

        /// Reads an object, calling `field` with each key; `field` must consume the key's value
        /// (with a `read…` method or ``skipValue()``).
        mutating func readObject(
            _ field: (inout Reader, _ key: Key) throws(SyntaxError) -> Void
        ) throws(SyntaxError) {
            try expect(UInt8(ascii: "{"), "an object")
            if peek() == UInt8(ascii: "}") {
                offset += 1
                return
            }
            while true {
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try readKey()
                try expect(UInt8(ascii: ":"), "':' after a key")
                try field(&self, key)
                switch peek() {
                case UInt8(ascii: ","): offset += 1
                case UInt8(ascii: "}"):
                    offset += 1
                    return
                default: throw fail("expected ',' or '}' in an object")
                }
            }
        }

        /// Reads an array, calling `element` once per element; `element` must consume it.
        mutating func readArray(_ element: (inout Reader) throws(SyntaxError) -> Void) throws(SyntaxError) {
            try expect(UInt8(ascii: "["), "an array")
            if peek() == UInt8(ascii: "]") {
                offset += 1
                return
            }
            while true {
                try element(&self)
                switch peek() {
                case UInt8(ascii: ","): offset += 1
                case UInt8(ascii: "]"):
                    offset += 1
                    return
                default: throw fail("expected ',' or ']' in an array")
                }
            }
        }

        /// An object key: its raw bytes when it has no escapes (the common case, compared
        /// without building a `String`), else its decoded text.
        enum Key {
            case raw(UnsafeRawBufferPointer)
            case decoded(String)

            /// True when the key is `name`.
            func isEqual(to name: StaticString) -> Bool {
                switch self {
                case .raw(let bytes):
                    return bytes.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
                case .decoded(let text):
                    return text == name.description
                }
            }
        }

        private mutating func readKey() throws(SyntaxError) -> Key {
            let start = offset + 1
            let end = try scanString()
            if bytes[start..<end].contains(UInt8(ascii: "\\")) {
                offset = start - 1
                return .decoded(try readString())
            }
            return .raw(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }

        /// Moves past a string (at its opening quote) and returns the offset of its closing
        /// quote; escapes are skipped, not checked.
        private mutating func scanString() throws(SyntaxError) -> Int {
            offset += 1
            while offset < bytes.count {
                switch bytes[offset] {
                case UInt8(ascii: "\""):
                    let end = offset
                    offset += 1
                    return end
                case UInt8(ascii: "\\"): offset += 2
                default: offset += 1
                }
            }
            throw fail("unterminated string")
        }

        /// Reads a string, decoding its escapes. Unescaped control characters, invalid UTF-8
        /// and broken `\u` escapes throw.
        mutating func readString() throws(SyntaxError) -> String {
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
            let start = offset + 1
            let end = try scanString()
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            var escaped = false
            for (index, byte) in raw.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\\") {
                guard byte >= 0x20 else {
                    throw SyntaxError(offset: start + index, reason: "a control character must be escaped in a string")
                }
                escaped = true
            }
            if !escaped {
                if let known = FrameHeaderJSON.knownString(raw) { return known }
                guard let text = String(validating: raw, as: UTF8.self) else {
                    throw SyntaxError(offset: start, reason: "a string is not valid UTF-8")
                }
                return text
            }
            var utf8: [UInt8] = []
            utf8.reserveCapacity(raw.count)
            var index = 0
            func hex4(at position: Int) throws(SyntaxError) -> UInt32 {
                guard position + 4 <= raw.count else {
                    throw SyntaxError(offset: start + position, reason: "a \\u escape needs four hex digits")
                }
                var value: UInt32 = 0
                for byte in raw[position..<position + 4] {
                    let digit: UInt8
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                    default: throw SyntaxError(offset: start + position, reason: "a \\u escape needs four hex digits")
                    }
                    value = value << 4 | UInt32(digit)
                }
                return value
            }
            while index < raw.count {
                let byte = raw[index]
                guard byte == UInt8(ascii: "\\") else {
                    utf8.append(byte)
                    index += 1
                    continue
                }
                let escape = raw[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(at: index)
                    index += 4
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"), raw[index + 1] == UInt8(ascii: "u")
                        else { throw SyntaxError(offset: start + index, reason: "a lone surrogate in a \\u escape") }
                        let low = try hex4(at: index + 2)
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw SyntaxError(offset: start + index, reason: "a lone surrogate in a \\u escape")
                        }
                        index += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw SyntaxError(offset: start + index, reason: "a lone surrogate in a \\u escape")
                    }
                    utf8.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
                default:
                    throw SyntaxError(offset: start + index - 1, reason: "an invalid escape in a string")
                }
            }
            guard let text = String(validating: utf8, as: UTF8.self) else {
                throw SyntaxError(offset: start, reason: "a string is not valid UTF-8")
            }
            return text
        }

        /// Reads a number whose value is an integer of type `T` (`200`, and as Foundation also
        /// `200.0` or `2e2`); throws for fractions and values out of `T`'s range.
        mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(SyntaxError) -> T {
            skipWhitespace()
            let start = offset
            let integral = try scanNumber()
            let token = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
            if integral {
                var value: T = 0
                let negative = token[0] == UInt8(ascii: "-")
                for byte in token.dropFirst(negative ? 1 : 0) {
                    let digit = T(byte - UInt8(ascii: "0"))
                    let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
                    let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                    guard !o1, !o2 else { throw SyntaxError(offset: start, reason: "the number does not fit \(T.self)") }
                    value = next
                }
                return value
            }
            guard let double = Double(String(decoding: token, as: UTF8.self)), let exact = T(exactly: double) else {
                throw SyntaxError(offset: start, reason: "the number is not an integer that fits \(T.self)")
            }
            return exact
        }

        /// Moves past a number (RFC 8259 grammar); true when it has no fraction or exponent.
        private mutating func scanNumber() throws(SyntaxError) -> Bool {
            func digits(_ reader: inout Reader) -> Int {
                let first = reader.offset
                while let byte = reader.current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { reader.offset += 1 }
                return reader.offset - first
            }
            let start = offset
            if current == UInt8(ascii: "-") { offset += 1 }
            let leadingZero = current == UInt8(ascii: "0")
            let count = digits(&self)
            guard count > 0, !(leadingZero && count > 1) else {
                throw SyntaxError(offset: start, reason: "expected a number")
            }
            var integral = true
            if current == UInt8(ascii: ".") {
                offset += 1
                guard digits(&self) > 0 else { throw SyntaxError(offset: start, reason: "expected digits after '.'") }
                integral = false
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                offset += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
                guard digits(&self) > 0 else { throw SyntaxError(offset: start, reason: "expected digits in an exponent") }
                integral = false
            }
            return integral
        }

        /// Skips one value of any type, checking its syntax.
        mutating func skipValue(depth: Int = 0) throws(SyntaxError) {
            guard depth < 64 else { throw fail("nested deeper than 64 levels") }
            switch peek() {
            case UInt8(ascii: "{"): try readObject { (reader, _) throws(SyntaxError) in try reader.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["): try readArray { reader throws(SyntaxError) in try reader.skipValue(depth: depth + 1) }
            case UInt8(ascii: "\""): _ = try scanString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case .some: _ = try scanNumber()
            case nil: throw fail("expected a value")
            }
        }
    }

    /// Which of an object's known keys were read already: the first of duplicated keys wins, as
    /// in Foundation. Fields are numbered from 0 to 7.
    struct SeenKeys {
        private var bits: UInt16 = 0

        /// True the first time `field` is asked for; false ever after.
        mutating func first(_ field: UInt16) -> Bool {
            defer { bits |= 1 << field }
            return bits & (1 << field) == 0
        }
    }

    /// Content types the runtime sends on every response: string literals, so returning one
    /// allocates nothing (a decoded string over 15 bytes would).
    private static let knownStrings: [String] = [
        "application/json", "text/plain; charset=utf-8", "application/octet-stream",
    ]

    fileprivate static func knownString(_ raw: UnsafeRawBufferPointer) -> String? {
        knownStrings.first { $0.utf8.count == raw.count && $0.utf8.elementsEqual(raw) }
    }
}
