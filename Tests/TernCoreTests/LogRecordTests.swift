import Foundation
import Testing

@testable import TernCore

/// `tern logs -o json`'s records: level and request id read off the stored text.
@Suite struct LogRecordTests {
    private let at = Date(timeIntervalSince1970: 1_765_000_000.25)

    private func record(_ text: String, source: String = "iris-3f9a1c") -> LogRecord {
        LogRecord(api: "iris", line: LogLine(timestamp: at, source: source, text: text))
    }

    @Test func theRuntimesTracebackLinesAreErrorsOfTheirRequest() {
        let line = record("[3f9a1c2b-17] Traceback (most recent call last):")
        #expect(line.level == .error)
        #expect(line.requestID == "3f9a1c2b-17")
        #expect(line.time == "2025-12-06T05:46:40.250Z")
        #expect(line.api == "iris" && line.source == "iris-3f9a1c")
    }

    @Test func pythonLoggingLevelWordsGiveTheLevel() {
        #expect(record("WARNING:root:model is old").level == .warning)
        #expect(record("2026-12-07 10:00:01,123 - app - ERROR - failed").level == .error)
        #expect(record("[DEBUG] cache warm").level == .debug)
        #expect(record("CRITICAL:root:out of disk").level == .critical)
        #expect(record("INFO:root:loaded").level == .info)
        // A level word further in than the first six words does not count; lower case does not either.
        #expect(record("the one two three four five six ERROR").level == .info)
        #expect(record("an error happened").level == .info)
    }

    @Test func ternsLinesAboutFailingReplicasAreWarnings() {
        #expect(record("replica iris-3f9a1c exited with status 1; restarting in 1.0s", source: "tern").level == .warning)
        #expect(record("replica iris-3f9a1c is ready", source: "tern").level == .info)
        // The same words from a replica are its own business.
        #expect(record("job failed", source: "iris-3f9a1c").level == .info)
    }

    @Test func aBracketedPrefixIsARequestIDOnlyInTheIDsForm() {
        #expect(record("[a b] x").requestID == nil)
        #expect(record("[] x").requestID == nil)
        #expect(record("[abc]x").requestID == nil)
        #expect(record("[" + String(repeating: "a", count: 129) + "] x").requestID == nil)
        #expect(record("[client-7:a/b+c=] x").requestID == "client-7:a/b+c=")
    }

    @Test func theJSONFormHasSnakeCaseKeysAndOmitsWhatIsUnknown() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let tagged = String(decoding: try encoder.encode(record("[r-1] ValueError: boom")), as: UTF8.self)
        #expect(tagged == #"{"api":"iris","level":"error","request_id":"r-1","source":"iris-3f9a1c","text":"[r-1] ValueError: boom","time":"2025-12-06T05:46:40.250Z"}"#)
        let bare = LogRecord(api: "iris", line: LogLine(parsing: "  continued"))
        #expect(String(decoding: try encoder.encode(bare), as: UTF8.self) == #"{"api":"iris","level":"info","source":"","text":"  continued"}"#)
    }

    @Test func levelsAreOrdered() {
        #expect(LogLevel.allCases.sorted() == [.debug, .info, .warning, .error, .critical])
        #expect(LogLevel.warning >= .info && !(LogLevel.info >= .warning))
    }

    @Test func requestIDFormIsTheGatewaysAndTheClientsIDs() {
        #expect(RequestIDText.isValid("3f9a1c2b-17"))
        #expect(RequestIDText.isValid(String(repeating: "x", count: 128)))
        #expect(!RequestIDText.isValid(String(repeating: "x", count: 129)))
        #expect(!RequestIDText.isValid(""))
        #expect(!RequestIDText.isValid("a,b"))
        #expect(!RequestIDText.isValid("a\"b"))
        #expect(!RequestIDText.isValid("é"))
    }
}
