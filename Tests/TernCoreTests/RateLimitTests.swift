import Foundation
import TernCore
import Testing

/// `--rate-limit REQUESTS/PERIOD [--burst N]` (``RateLimit``): parsing, bounds, display, JSON.
@Suite struct RateLimitTests {
    @Test func ratesParseWithTheirPeriods() throws {
        #expect(try RateLimit.parse("10/s") == RateLimit(requests: 10, per: .second, burst: 10))
        #expect(try RateLimit.parse("600/m", burst: 50) == RateLimit(requests: 600, per: .minute, burst: 50))
        #expect(try RateLimit.parse("1000/h") == RateLimit(requests: 1000, per: .hour, burst: 1000))
        #expect(try RateLimit.parse(" 5 / second ") == RateLimit(requests: 5, per: .second, burst: 5))
        #expect(try RateLimit.parse("5/MIN").per == .minute)
        #expect(try RateLimit.parse("5/hour").per == .hour)
        #expect(try RateLimit.parse("10/s").perSecond == 10)
        #expect(try RateLimit.parse("3600/h").perSecond == 1)
    }

    @Test func malformedRatesAndBoundsAreRefusedSayingWhatToWrite() {
        for text in ["10", "10/d", "/s", "ten/s", "10/s/s", "", "1.5/s"] {
            #expect(throws: RateLimit.Invalid(message: "rate limit \"\(text)\" is not REQUESTS/PERIOD; write e.g. 10/s, 600/m or 1000/h")) {
                try RateLimit.parse(text)
            }
        }
        #expect(throws: RateLimit.Invalid(message: "rate limit requests must be 1 to 1000000 per second; got 0")) {
            try RateLimit.parse("0/s")
        }
        #expect(throws: RateLimit.Invalid(message: "rate limit requests must be 1 to 1000000 per minute; got -3")) {
            try RateLimit.parse("-3/m")
        }
        #expect(throws: RateLimit.Invalid(message: "rate limit burst must be 1 to 1000000; got 0")) {
            try RateLimit.parse("10/s", burst: 0)
        }
        #expect(throws: RateLimit.Invalid.self) { try RateLimit.parse("1000001/s") }
    }

    @Test func itDisplaysAsWrittenAndEncodesAsJSON() throws {
        #expect(RateLimit(requests: 10, per: .second, burst: 10).description == "10/s")
        #expect(RateLimit(requests: 10, per: .second, burst: 20).description == "10/s burst 20")
        #expect(RateLimit(requests: 1000, per: .hour, burst: 1000).description == "1000/h")
        let document = APIKeyDocument(
            id: "key_1", api: "iris", created: Date(timeIntervalSince1970: 0), prefix: "tern_abcd",
            rateLimit: RateLimit(requests: 10, per: .second, burst: 20))
        let json = String(decoding: try WireJSON.encoder().encode(document), as: UTF8.self)
        #expect(json.contains(#""rate_limit":{"burst":20,"per":"second","requests":10}"#), "\(json)")
        #expect(try WireJSON.decoder().decode(APIKeyDocument.self, from: Data(json.utf8)) == document)
        var unlimited = document
        unlimited.rateLimit = nil
        let plain = String(decoding: try WireJSON.encoder().encode(unlimited), as: UTF8.self)
        #expect(!plain.contains("rate_limit"), "absent, never null: \(plain)")
    }
}
