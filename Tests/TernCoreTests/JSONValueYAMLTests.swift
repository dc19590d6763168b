import Foundation
import TernCore
import Testing

/// A YAML document read as JSON (``JSONValue/init(yaml:fileName:)``): what `/v1/openapi.json`
/// serves of `docs/openapi.yaml`.
@Suite struct JSONValueYAMLTests {
    @Test func scalarsKeepTheirJSONTypesAndEverythingElseIsAString() throws {
        let value = try JSONValue(
            yaml: """
                openapi: 3.0.3
                "200": {description: ok}
                minimum: 1
                ratio: 0.5
                required: [id, name]
                nullable: true
                nothing: null
                when: 2026-11-30T04:55:03Z
                text: |
                  two
                  lines
                """, fileName: "doc.yaml")
        #expect(
            value
                == .object([
                    "openapi": .string("3.0.3"), "200": .object(["description": .string("ok")]), "minimum": .number(1),
                    "ratio": .number(0.5), "required": .array([.string("id"), .string("name")]), "nullable": .bool(true),
                    "nothing": .null, "when": .string("2026-11-30T04:55:03Z"), "text": .string("two\nlines"),  // clip chomping: the document ends without a newline
                ]))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(try JSONValue(yaml: "a: [1, 2.5, x]", fileName: "d")), as: UTF8.self) == #"{"a":[1,2.5,"x"]}"#)
    }

    @Test func aSyntaxErrorOrAValueJSONCannotHoldIsAnIssueWithItsLine() throws {
        #expect {
            try JSONValue(yaml: "a: 1\nb: [1, 2\n", fileName: "doc.yaml")
        } throws: { error in
            let issue = (error as? ConfigError)?.issues.first
            return issue?.file == "doc.yaml" && issue?.message.hasPrefix("YAML syntax error") == true && issue?.line != nil
        }
        #expect {
            try JSONValue(yaml: "a: 1\nb: .nan\n", fileName: "doc.yaml")
        } throws: { error in
            (error as? ConfigError)?.description == "doc.yaml:2: b: .nan cannot be represented in JSON; quote it to pass a string"
        }
        #expect(throws: ConfigError.self) { try JSONValue(yaml: "", fileName: "doc.yaml") }
    }
}
