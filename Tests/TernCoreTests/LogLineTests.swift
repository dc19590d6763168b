import Foundation
import TernCore
import Testing

@Suite struct LogLineTests {
    @Test func aLineReadsAsTimestampSourceAndText() throws {
        let line = LogLine(parsing: "2026-11-30T04:55:03.328Z iris-3f9a1c | Loading | the model")
        #expect(line.source == "iris-3f9a1c")
        #expect(line.text == "Loading | the model")
        let timestamp = try #require(line.timestamp)
        #expect(timestamp.timeIntervalSince1970 == 1_796_014_503.328)
    }

    @Test func renderingIsTheStoredForm() {
        let line = LogLine(timestamp: Date(timeIntervalSince1970: 1_796_014_503.328), source: "tern", text: "ready")
        #expect(line.rendered == "2026-11-30T04:55:03.328Z tern | ready")
    }

    @Test(arguments: [
        "2026-11-30T04:55:03.328Z iris-3f9a1c | Loading the model",
        "2026-11-30T04:55:03.328Z tern | ",
        "1970-01-01T00:00:00.000Z pip | Successfully installed x",
        "2000-02-29T23:59:59.999Z a | leap day",
        "1969-12-31T23:59:59.999Z a | before the epoch",
        "    at line 3 of a traceback that held a newline",
        "",
        "2026-11-30T04:55:03.328Z",
        "2026-11-30T04:55:03.328Z iris",
        "2026-11-30T04:55:03.328Z  | no source",
        "2026-11-30T04:55:03Z iris | no milliseconds",
        "2026-02-30T04:55:03.328Z iris | no such day",
        "2026-11-30T24:00:00.000Z iris | no such hour",
        "2026-11-30T04:55:03.328Z iris |no space",
        "2026-11-30T04:55:03.328Z iris ́| a combining mark after the source",
        "2026-11-30T04:55:03.328Z é | ünïcödé 🐦",
    ])
    func parsingThenRenderingGivesTheSameText(text: String) {
        #expect(Array(LogLine(parsing: text).rendered.utf8) == Array(text.utf8))
    }

    @Test func aLineNotWrittenByTernKeepsItsWholeText() {
        let line = LogLine(parsing: "Traceback (most recent call last):")
        #expect(line.timestamp == nil)
        #expect(line.source == "")
        #expect(line.text == "Traceback (most recent call last):")
    }

    @Test func timestampsRoundToTheNearestMillisecond() {
        #expect(LogLine.format(timestamp: Date(timeIntervalSince1970: 0.0004)) == "1970-01-01T00:00:00.000Z")
        #expect(LogLine.format(timestamp: Date(timeIntervalSince1970: 0.0006)) == "1970-01-01T00:00:00.001Z")
        #expect(LogLine.format(timestamp: Date(timeIntervalSince1970: 86_399.9996)) == "1970-01-02T00:00:00.000Z")
    }

    @Test func timestampsMatchFoundationsISO8601Form() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for seconds in stride(from: -86_400.0 * 800, through: 86_400.0 * 365 * 80, by: 86_400.0 * 37.3 + 0.125) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(LogLine.format(timestamp: date) == formatter.string(from: date), "\(seconds)")
        }
    }
}
