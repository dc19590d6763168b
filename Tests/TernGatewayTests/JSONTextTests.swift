import Foundation
import Testing

@testable import TernGateway

@Suite struct JSONTextTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("", #""""#),
        (#"say "hi""#, #""say \"hi\"""#),
        (#"C:\path\"#, #""C:\\path\\""#),
        ("a\nb\rc\td", #""a\nb\rc\td""#),
        ("\u{1}", #""\u0001""#),
        ("\u{0}x\u{1f}", #""\u0000x\u001f""#),
        ("\u{8}\u{c}\u{b}", #""\u0008\u000c\u000b""#),
        ("\u{7f}", "\"\u{7f}\""),
        ("é 日本 😀", #""é 日本 😀""#),
        ("\u{2028}</script>", "\"\u{2028}</script>\""),
        // Passed through; Foundation's JSONSerialization drops it when parsing, so it is checked here.
        ("\u{feff}bom", "\"\u{feff}bom\""),
    ])
    func quotedEscapesExactlyWhatJSONRequires(input: String, expected: String) {
        #expect(JSONText.quoted(input) == expected)
    }

    @Test(arguments: [
        "", " ", "\"", "\\", "\\\"", "\"\\", "\u{0}", "\u{1}\u{2}\u{3}\u{1e}\u{1f}", "line\r\nbreak",
        "tab\there", "/slash/", "e\u{301}", "👩‍👩‍👧", "\u{fffd}", "{\"json\":[1,2]}", "\\u0041",
        String(repeating: "\\\"\n", count: 100),
    ])
    func quotedTextParsesBackToTheInput(input: String) throws {
        let quoted = JSONText.quoted(input)
        let parsed = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed)
        let string = try #require(parsed as? String)
        #expect(Array(string.unicodeScalars) == Array(input.unicodeScalars))
    }

    @Test func everyControlCharacterRoundTrips() throws {
        let input = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        let parsed = try JSONSerialization.jsonObject(
            with: Data(JSONText.quoted(input).utf8), options: .fragmentsAllowed)
        #expect((parsed as? String).map { Array($0.unicodeScalars) } == Array(input.unicodeScalars))
    }
}
