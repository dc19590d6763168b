import ArgumentParser
import Foundation
import TernCore

extension LogLevel: ExpressibleByArgument {}

/// What `tern logs` keeps of an API's log and how it prints it: lines since a time, at a level
/// or above (``LogRecord``'s reading of the level), as stored or as JSON records.
///
/// A line without a timestamp (the continuation of a text that held a newline) goes with the
/// timestamped line before it: kept when that one was. The filtering is done by the CLI on the
/// lines the control plane sends (`tail` still counts lines before filtering).
struct LogFilter {
    /// The API whose log is read (the `api` field of JSON records).
    var api: String
    /// Only lines written at or after this time.
    var since: Date?
    /// Only lines at this level or above.
    var level: LogLevel?
    /// Print ``LogRecord`` JSON (one object per line) instead of the stored text.
    var json: Bool
    /// Whether the last timestamped line was kept (for continuation lines).
    private var lastKept = true

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(api: String, since: Date?, level: LogLevel?, json: Bool) {
        self.api = api
        self.since = since
        self.level = level
        self.json = json
    }

    /// Whether every line is printed as it is (then the log is copied without parsing).
    var keepsEverything: Bool { since == nil && level == nil && !json }

    /// `text` (one stored line, without its newline) as printed, or nil when it is left out.
    mutating func render(_ text: String) -> String? {
        let line = LogLine(parsing: text)
        let record = LogRecord(api: api, line: line)
        if let timestamp = line.timestamp {
            lastKept = (since.map { timestamp >= $0 } ?? true) && (level.map { record.level >= $0 } ?? true)
        }
        guard lastKept else { return nil }
        guard json else { return text }
        return (try? Self.encoder.encode(record)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The start time `--since` names: a duration back from `now` (`30s`, `10m`, `2h`, `1h30m`;
    /// DurationParser's forms) or an RFC 3339 time (`2026-12-07T10:00:00Z`, fractions allowed).
    /// - Throws: `ValidationError` naming both accepted forms.
    static func start(since: String, now: Date) throws -> Date {
        if let milliseconds = try? DurationParser.milliseconds(since), milliseconds >= 0 {
            return now.addingTimeInterval(-Double(milliseconds) / 1000)
        }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: since) { return date }
        formatter.formatOptions.insert(.withFractionalSeconds)
        if let date = formatter.date(from: since) { return date }
        throw ValidationError("--since takes a duration (30s, 10m, 2h) or an RFC 3339 time (2026-12-07T10:00:00Z), got '\(since)'")
    }
}
