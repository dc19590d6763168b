import Foundation

/// One line of an API's log: when it was written, who wrote it, and what it says.
///
/// Its text form, ``rendered``, is the line as `tern logs` prints it and as the local backend
/// stores it in `TERN_HOME/logs/<api>.log`:
///
/// ```
/// 2026-11-30T04:55:03.328Z iris-3f9a1c | Loading the model
/// 2026-11-30T04:55:04.101Z tern | replica iris-3f9a1c is ready
/// ```
///
/// ``init(parsing:)`` is its inverse: `LogLine(parsing: text).rendered == text` for every text
/// without a newline, including lines that are not in this form (a continuation of a text that
/// held a newline, or anything else in the file), which keep their whole text and no timestamp.
public struct LogLine: Sendable, Hashable {
    /// When the line was written (millisecond precision in the text form); nil for a line whose
    /// text does not start with a Tern timestamp.
    public var timestamp: Date?
    /// Who wrote it: a replica id (`iris-3f9a1c`, a pod name on Kubernetes), ``ternSource`` for
    /// Tern's own lines, or a tool Tern ran (`pip`); empty for a line without a timestamp.
    public var source: String
    /// What the replica or Tern printed, without the newline.
    public var text: String

    /// The source of the lines Tern itself writes (starts, exits, restarts, scaling).
    public static let ternSource = "tern"

    /// A line written by `source` at `timestamp`.
    public init(timestamp: Date, source: String, text: String) {
        self.timestamp = timestamp
        self.source = source
        self.text = text
    }

    /// The line that ``rendered`` `line` (one line, without its newline). A text that is not
    /// `<timestamp> <source> | <text>`, with the timestamp as ``format(timestamp:)`` writes it and a
    /// source without spaces, becomes a line with no timestamp, an empty source and `line` as text.
    public init(parsing line: some StringProtocol) {
        let text = String(line)
        self.timestamp = nil
        self.source = ""
        self.text = text
        // Split at ASCII bytes only, so that the parts decode to exactly the bytes they held.
        let bytes = Array(text.utf8)
        let space = UInt8(ascii: " ")
        let sourceStart = Self.timestampLength + 1
        guard bytes.count > sourceStart, bytes[Self.timestampLength] == space,
            let date = Self.parse(timestamp: bytes[..<Self.timestampLength]),
            let sourceEnd = bytes[sourceStart...].firstIndex(of: space), sourceEnd > sourceStart,
            bytes.count >= sourceEnd + 3, bytes[sourceEnd + 1] == UInt8(ascii: "|"), bytes[sourceEnd + 2] == space
        else { return }
        self.timestamp = date
        self.source = String(decoding: bytes[sourceStart..<sourceEnd], as: UTF8.self)
        self.text = String(decoding: bytes[(sourceEnd + 3)...], as: UTF8.self)
    }

    /// `2026-11-30T04:55:03.328Z iris-3f9a1c | <text>`; for a line without a timestamp, its text.
    public var rendered: String {
        guard let timestamp else { return text }
        return Self.format(timestamp: timestamp) + " " + source + " | " + text
    }

    // MARK: timestamps

    /// Characters of a timestamp: `2026-11-30T04:55:03.328Z`.
    static let timestampLength = 24

    /// `date` in UTC as ISO 8601 with milliseconds (rounded to the nearest), e.g.
    /// `2026-11-30T04:55:03.328Z`. Civil dates from days since 1970 by Howard Hinnant's
    /// `civil_from_days` (https://howardhinnant.github.io/date_algorithms.html).
    public static func format(timestamp date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, millisecondOfDay) = milliseconds.floorDivided(by: 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        func digits(_ value: Int64, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return digits(year, 4) + "-" + digits(month, 2) + "-" + digits(day, 2) + "T"
            + digits(millisecondOfDay / 3_600_000, 2) + ":" + digits(millisecondOfDay / 60_000 % 60, 2) + ":"
            + digits(millisecondOfDay / 1000 % 60, 2) + "." + digits(millisecondOfDay % 1000, 3) + "Z"
    }

    /// The instant of a timestamp as ``format(timestamp:)`` writes it, or nil for any other text
    /// (so that a parsed line renders as it was read).
    static func parse(timestamp text: ArraySlice<UInt8>) -> Date? {
        let bytes = Array(text)
        guard bytes.count == timestampLength else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")]
        guard separators.allSatisfy({ bytes[$0.0] == $0.1.asciiValue }),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let millisecond = number(20..<23), (1...12).contains(month), (1...31).contains(day), hour < 24,
            minute < 60, second < 60
        else { return nil }
        let days = Self.days(fromCivil: year, month, day)
        let milliseconds = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millisecond
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        // Rejects dates that do not exist (February 30th), which would render differently.
        return Array(format(timestamp: date).utf8) == bytes ? date : nil
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
    private static func civil(fromDays count: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = count + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int64 {
    /// Quotient rounded towards minus infinity and the (non-negative) remainder.
    fileprivate func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let remainder = self % divisor
        return remainder < 0 ? (self / divisor - 1, remainder + divisor) : (self / divisor, remainder)
    }
}
