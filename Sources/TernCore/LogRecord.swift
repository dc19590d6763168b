import Foundation

/// How severe a log line is, as `tern logs --level` filters and `-o json` reports it.
///
/// Ordered: `debug < info < warning < error < critical`.
public enum LogLevel: String, Sendable, Codable, CaseIterable, Comparable {
    case debug, info, warning, error, critical

    /// `debug` < `info` < `warning` < `error` < `critical`.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }

    private var rank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warning: 2
        case .error: 3
        case .critical: 4
        }
    }

    /// The level a level word names: `DEBUG`, `INFO`, `WARNING`/`WARN`, `ERROR`, `CRITICAL`/`FATAL`
    /// (upper case, as Python's `logging` and most loggers write them); nil for any other word.
    init?(word: Substring) {
        switch word {
        case "DEBUG": self = .debug
        case "INFO": self = .info
        case "WARNING", "WARN": self = .warning
        case "ERROR": self = .error
        case "CRITICAL", "FATAL": self = .critical
        default: return nil
        }
    }
}

/// One log line in the structured form `tern logs -o json` prints (one JSON object per line):
///
/// ```json
/// {"time":"2026-11-30T04:55:03.328Z","api":"iris","source":"iris-3f9a1c","level":"error",
///  "request_id":"3f9a1c2b-17","text":"[3f9a1c2b-17] Traceback (most recent call last):"}
/// ```
///
/// The stored line (``LogLine``) has a time, a source and a text; the level and the request id
/// are read off the text by ``init(api:line:)``:
/// - a line the runtime wrote about one request starts with `[<request id>] ` (its traceback of a
///   failed prediction: level `error`);
/// - a level word (``LogLevel/init(word:)``) among the first words of the text, as Python's
///   `logging` writes it (`ERROR:root:…`, `… - WARNING - …`, `[INFO] …`), gives the level;
/// - Tern's own lines (source `tern`) about a replica that exited, failed, was killed or did not
///   answer its health check are `warning`;
/// - everything else is `info`.
/// Replica output does not record whether it came from stdout or stderr, so there is no stream field.
public struct LogRecord: Sendable, Codable, Equatable {
    /// The line's time, RFC 3339 with milliseconds (UTC); nil for a line without a timestamp.
    public var time: String?
    /// The API whose log holds the line.
    public var api: String
    /// A replica id, `tern`, or a tool Tern ran (`pip`); empty for a line without a timestamp.
    public var source: String
    /// The level read off the text (see the type's description).
    public var level: LogLevel
    /// The request the line is about, when it starts with `[<id>] `.
    public var requestID: String?
    /// The line's text, as stored.
    public var text: String

    enum CodingKeys: String, CodingKey {
        case time, api, source, level, requestID = "request_id", text
    }

    /// How many leading words of a text are searched for a level word.
    static let levelWordsSearched = 6

    /// The record of `line` in `api`'s log.
    public init(api: String, line: LogLine) {
        self.api = api
        self.time = line.timestamp.map(LogLine.format(timestamp:))
        self.source = line.source
        self.text = line.text
        self.requestID = Self.requestID(in: line.text)
        self.level = Self.level(of: line.text, source: line.source, requestID: requestID)
    }

    /// The id in a leading `[<id>] ` when it has ``RequestIDText``'s form.
    static func requestID(in text: String) -> String? {
        guard text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[close...].hasPrefix("] ") else { return nil }
        let id = text[text.index(after: text.startIndex)..<close]
        return RequestIDText.isValid(id) ? String(id) : nil
    }

    static func level(of text: String, source: String, requestID: String?) -> LogLevel {
        // maxSplits: only the leading words are cut out (the rest stays one unread remainder).
        let words = text.split(maxSplits: levelWordsSearched, whereSeparator: { !$0.isLetter }).prefix(levelWordsSearched)
        if let named = words.lazy.compactMap(LogLevel.init(word:)).first { return named }
        if requestID != nil { return .error }  // the runtime's traceback of a failed request
        if source == LogLine.ternSource {
            let warnings = ["exited", "failed", "killed", "did not", "out of memory", "restarting"]
            if warnings.contains(where: text.contains) { return .warning }
        }
        return .info
    }
}
