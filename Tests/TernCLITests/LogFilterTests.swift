import Foundation
import Testing
import TernCore

@testable import TernCLI

/// `tern logs --since/--level/-o json`: which stored lines are printed, and how.
@Suite struct LogFilterTests {
    private let now = Date(timeIntervalSince1970: 1_765_000_000)

    private func stored(_ secondsAgo: Double, _ source: String, _ text: String) -> String {
        LogLine(timestamp: now.addingTimeInterval(-secondsAgo), source: source, text: text).rendered
    }

    @Test func sinceTakesDurationsAndRFC3339Times() throws {
        #expect(try LogFilter.start(since: "10m", now: now) == now.addingTimeInterval(-600))
        #expect(try LogFilter.start(since: "1h30m", now: now) == now.addingTimeInterval(-5400))
        #expect(try LogFilter.start(since: "2025-12-06T05:46:40Z", now: now) == now)
        #expect(try LogFilter.start(since: "2025-12-06T05:46:40.500Z", now: now) == now.addingTimeInterval(0.5))
        #expect(throws: (any Error).self) { try LogFilter.start(since: "yesterday", now: now) }
    }

    @Test func levelAndSinceKeepMatchingLinesAndTheirContinuations() throws {
        var filter = LogFilter(api: "iris", since: try LogFilter.start(since: "1m", now: now), level: .warning, json: false)
        #expect(!filter.keepsEverything)
        #expect(filter.render(stored(120, "iris-1", "WARNING:root:old")) == nil)  // before --since
        let recent = stored(30, "iris-1", "ERROR:root:bad")
        #expect(filter.render(recent) == recent)
        #expect(filter.render("  continuation of the error") == "  continuation of the error")
        #expect(filter.render(stored(10, "iris-1", "INFO:root:fine")) == nil)  // below --level
        #expect(filter.render("  continuation of the info") == nil)
    }

    @Test func jsonPrintsOneRecordPerLine() throws {
        var filter = LogFilter(api: "iris", since: nil, level: nil, json: true)
        let rendered = filter.render(stored(0, "iris-1", "[r-9] Traceback (most recent call last):"))
        let shown = try #require(rendered)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: String])
        #expect(object == [
            "api": "iris", "source": "iris-1", "level": "error", "request_id": "r-9",
            "text": "[r-9] Traceback (most recent call last):", "time": "2025-12-06T05:46:40.000Z",
        ])
        #expect(LogFilter(api: "iris", since: nil, level: nil, json: false).keepsEverything)
    }
}
