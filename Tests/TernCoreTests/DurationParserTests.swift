import TernCore
import Testing

@Suite struct DurationParserTests {
    @Test(arguments: [
        ("10ms", 10), ("60s", 60_000), ("5m", 300_000), ("1h30m", 5_400_000), ("1.5s", 1500), ("0s", 0), ("0", 0),
        (".5h", 1_800_000), ("5.s", 5000), ("+2s", 2000), ("1h1m1s1ms", 3_661_001), ("2000us", 2), ("2000µs", 2),
        ("2000μs", 2), ("1500us", 2), ("1ns", 1), ("1000000ns", 1), ("0.0005s", 1), ("-0s", 0), ("100ms", 100),
        ("2562047h", 9_223_369_200_000),
    ])
    func durationIsParsedIntoMilliseconds(text: String, milliseconds: Int64) throws {
        #expect(try DurationParser.milliseconds(text) == milliseconds)
    }

    @Test func nanosecondsAreExact() throws {
        #expect(try DurationParser.nanoseconds("1.5us") == 1500)
        #expect(try DurationParser.nanoseconds("0.333333333333s") == 333_333_333)
        #expect(try DurationParser.nanoseconds("1h") == 3_600_000_000_000)
    }

    @Test(arguments: [
        ("10", DurationError.Code.missingUnit), ("1.5", .missingUnit), ("-5s", .negative), ("-1h30m", .negative),
        ("5 m", .malformed), ("s", .malformed), ("", .malformed), (".s", .malformed), ("-", .malformed),
        ("5d", .unknownUnit("d")), ("10sec", .unknownUnit("sec")), ("1S", .unknownUnit("S")),
        ("2562048h", .tooLarge), ("99999999999999999999s", .tooLarge),
    ])
    func invalidDurationIsRejected(text: String, code: DurationError.Code) {
        #expect(throws: DurationError(input: text, code: code)) { try DurationParser.milliseconds(text) }
    }

    @Test func errorMessagesGiveExamples() {
        #expect(
            DurationError(input: "10", code: .missingUnit).description
                == #""10" has no unit (examples: 10ms, 60s, 5m, 1h30m)"#)
        #expect(
            DurationError(input: "5d", code: .unknownUnit("d")).description
                == #""5d" has an unknown unit "d" (units: ns, us, ms, s, m, h)"#)
    }

    @Test func formattingPicksTheLargestWholeUnit() {
        #expect(DurationParser.format(milliseconds: 300_000) == "5m")
        #expect(DurationParser.format(milliseconds: 7_200_000) == "2h")
        #expect(DurationParser.format(milliseconds: 1500) == "1500ms")
        #expect(DurationParser.format(milliseconds: 0) == "0s")
    }
}
