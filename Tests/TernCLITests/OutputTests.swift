import ArgumentParser
import Foundation
import TernCore
import Testing

@testable import TernCLI

/// Colours, `-o table|json|yaml` and the commands of issue 14 part 7, without a server.
@Suite struct OutputTests {
    @Test func coloursOnlyOnATerminalWithoutNoColorNorADumbTerminal() {
        #expect(Terminal.colorsEnabled(isTTY: true, environment: [:]))
        #expect(Terminal.colorsEnabled(isTTY: true, environment: ["NO_COLOR": "", "TERM": "xterm-256color"]))
        #expect(!Terminal.colorsEnabled(isTTY: false, environment: [:]))
        #expect(!Terminal.colorsEnabled(isTTY: true, environment: ["NO_COLOR": "1"]))
        #expect(!Terminal.colorsEnabled(isTTY: true, environment: ["NO_COLOR": "0"]))
        #expect(!Terminal.colorsEnabled(isTTY: true, environment: ["TERM": "dumb"]))
    }

    @Test func yamlAndJSONHoldTheSameDocument() throws {
        let versions = Tern.Version.Versions(
            client: "0.1.0", server: .init(version: "0.1.0", controlURL: "http://127.0.0.1:8889", pid: 42))
        #expect(
            try OutputFormat.json.encoded(versions) == """
                {
                  "client" : "0.1.0",
                  "server" : {
                    "control_url" : "http://127.0.0.1:8889",
                    "pid" : 42,
                    "version" : "0.1.0"
                  }
                }
                """)
        #expect(
            try OutputFormat.yaml.encoded(versions) == """
                client: 0.1.0
                server:
                  control_url: http://127.0.0.1:8889
                  pid: 42
                  version: 0.1.0
                """)
    }

    @Test func versionTextNamesBothSidesOrWhyTheServerIsMissing() {
        let both = Tern.Version.Versions(client: "0.1.0", server: .init(version: "0.2.0", controlURL: "http://h:1", pid: 7))
        #expect(Tern.Version.text(both) == "client: tern 0.1.0\nserver: tern 0.2.0 (http://h:1, pid 7)")
        let none = Tern.Version.Versions(client: "0.1.0", serverError: "not running for /h (start it with `tern up`)")
        #expect(Tern.Version.text(none) == "client: tern 0.1.0\nserver: not running for /h (start it with `tern up`)")
    }

    @Test func everyReadCommandTakesOutputYAML() throws {
        #expect(try Tern.Get.parse(["-o", "yaml"]).output == .yaml)
        #expect(try Tern.Describe.parse(["iris", "--output", "yaml"]).output == .yaml)
        #expect(try Tern.Jobs.List.parse(["-o", "yaml"]).output == .yaml)
        #expect(try Tern.Jobs.DeadLetters.parse(["a", "j", "-o", "yaml"]).output == .yaml)
        #expect(try Tern.Keys.List.parse(["-o", "yaml"]).output == .yaml)
        #expect(try Tern.Env.List.parse(["-o", "yaml"]).output == .yaml)
        #expect(try Tern.Version.parse(["-o", "json"]).output == .json)
        #expect(throws: (any Error).self) { try Tern.Version.parse(["-o", "xml"]) }
    }

    @Test func completionTakesTheThreeShells() throws {
        #expect(try Tern.Completion.parse(["bash"]).shell == .bash)
        #expect(try Tern.Completion.parse(["zsh"]).shell == .zsh)
        #expect(try Tern.Completion.parse(["fish"]).shell == .fish)
        #expect(throws: (any Error).self) { try Tern.Completion.parse(["tcsh"]) }
        #expect(Tern.completionScript(for: .bash).contains("complete"))
    }
}
