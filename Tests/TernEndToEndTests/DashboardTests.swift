import Foundation
import Testing
import TernCore
import TernTesting

/// Debian's `chromium`, when installed (`.ci/run` installs it), or `TERN_CHROMIUM`.
private let chromium: String? = {
    if let path = ProcessInfo.processInfo.environment["TERN_CHROMIUM"] { return path }
    return ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
}()

extension EndToEnd {
    /// The dashboard (`GET /dashboard`) loaded in a real headless Chromium against a live server
    /// with traffic: its plots get points from `GET /v1/apis`, and a screenshot is saved
    /// (`TERN_DASHBOARD_SCREENSHOT`, else a temporary file; docs/dashboard.png is one).
    @Suite(.serialized, .sharedServer(), .enabled(if: chromium != nil, "needs Debian's chromium (apt-get install chromium)"))
    struct Dashboard {
        @Test("the page, script and style are served without a token, with a Content-Security-Policy")
        func assetsAreServedWithoutAToken() async throws {
            let server = try Shared.require()
            for (path, type) in [("/dashboard", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/style.css", "text/css")] {
                let result = try runCommand(
                    "/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(server.controlPort)\(path)"])
                let head = result.stdout.lowercased()
                #expect(head.hasPrefix("http/1.1 200"), "\(path): \(result.stdout)")
                #expect(head.contains("content-type: \(type)"), "\(path): \(result.stdout)")
                #expect(head.contains("content-security-policy: default-src 'none'; script-src 'self'"), "\(path)")
            }
            // The data behind it still needs the token.
            let apis = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.controlPort)/v1/apis"])
            #expect(apis.stdout == "401")
        }

        @Test("headless Chromium: every plot of an API with traffic has points, and a screenshot is taken")
        func plotsHaveSeriesUnderTraffic() async throws {
            let server = try Shared.require()
            // Two monitored APIs (fixture `monitored`): a classifier and a regression.
            try deployFixture("monitored", on: server)
            try await server.waitUntilLive("monitored")
            try await server.waitUntilLive("regressed")
            let labels = Array(repeating: "setosa", count: 30) + Array(repeating: "versicolor", count: 20)
                + Array(repeating: "virginica", count: 10)
            for label in labels {
                let response = try await server.request("/monitored", body: Data(#"{"label":"\#(label)"}"#.utf8))
                #expect(response.status == 200)
            }
            #expect(try await server.request("/monitored", body: Data(#"{"fail":400}"#.utf8)).status == 400)
            #expect(try await server.request("/monitored", body: Data(#"{"fail":500}"#.utf8)).status == 500)
            for value in 1...20 {
                #expect(try await server.request("/regressed", body: Data(#"{"value":\#(value)}"#.utf8)).status == 200)
            }
            let token = try String(contentsOf: server.home.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            // The token goes in the fragment, which the browser keeps to itself.
            let url = "http://127.0.0.1:\(server.controlPort)/dashboard#token=\(token)"
            // Virtual time: the page's 2-second polls run without waiting 2 real seconds each.
            let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=8000"]
            let dom = try runCommand(try #require(chromium), common + ["--dump-dom", url]).stdout
            let points = Dictionary(
                Self.matches(of: #"data-title="([^"]+)" data-points="([0-9]+)""#, in: dom).map { ($0[0], Int($0[1]) ?? -1) },
                uniquingKeysWith: min)
            #expect(Set(points.keys) == ["request rate (requests/s)", "latency (ms)", "in-flight", "replicas", "predictions"], "\(points)")
            for (plot, count) in points { #expect(count > 0, "plot \(plot) has no points") }
            // The classifier's distribution: one bar per class, with the counts sent.
            let bars = Self.matches(of: #"<rect [^>]*data-series="([^"]+)""#, in: dom).map { $0[0] }
            #expect(bars == ["setosa", "versicolor", "virginica"], "\(bars)")
            // The table rows show the answers: 60 + 2 + 1 and 20, and a request rate.
            for (api, expected) in [("monitored", ["60", "1", "1"]), ("regressed", ["20", "0", "0"])] {
                let row = try #require(Self.matches(of: #"<tr data-api="\#(api)">(.*?)</tr>"#, in: dom).first?.first, "no row for \(api)")
                let cells = Self.matches(of: #"<td[^>]*>([^<]*)</td>"#, in: row).map { $0[0] }
                #expect(cells.prefix(4) == [api, "RealtimeAPI", "live", "1/1"], "\(cells)")
                #expect(cells.count == 10 && Array(cells[7...]) == expected, "\(cells)")
                #expect(Double(cells[4]) ?? 0 > 0, "request rate \(cells)")
            }
            let screenshot = ProcessInfo.processInfo.environment["TERN_DASHBOARD_SCREENSHOT"]
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("tern-dashboard-\(getpid()).png").path
            try? FileManager.default.removeItem(atPath: screenshot)
            let shot = try runCommand(try #require(chromium), common + ["--window-size=1280,720", "--screenshot=\(screenshot)", url])
            let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG: \(shot.stderr.suffix(500))")
            #expect(png.count > 10_000)
        }

        /// The capture groups of every match of `pattern` in `text`.
        static func matches(of pattern: String, in text: String) -> [[String]] {
            guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
            let range = NSRange(text.startIndex..., in: text)
            return regex.matches(in: text, range: range).map { match in
                (1..<match.numberOfRanges).map { index in
                    Range(match.range(at: index), in: text).map { String(text[$0]) } ?? ""
                }
            }
        }
    }
}
