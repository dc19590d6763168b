import ArgumentParser
import Testing

@testable import TernCLI

/// `tern serve --event-loops` (issue 17 item 3): how many event-loop threads the server runs.
@Suite struct EventLoopCountTests {
    @Test("auto gives a third of the cores, at least one")
    func automaticCountIsAThirdOfTheCores() {
        #expect([1, 2, 3, 4, 5, 8, 16, 64].map { EventLoopCount.automatic(cores: $0) } == [1, 1, 1, 1, 2, 3, 5, 21])
    }

    @Test("--event-loops takes auto or 1 to 256 and refuses anything else, naming the option")
    func optionIsValidated() throws {
        #expect(try Tern.Serve.parse(["--event-loops", "3"]).options.eventLoopCount == 3)
        #expect(try Tern.Serve.parse(["--event-loops", "auto"]).options.eventLoops == "auto")
        #expect(try Tern.Serve.parse([]).options.eventLoops == "auto")
        for bad in ["0", "257", "two", "-1", ""] {
            do {
                _ = try Tern.Serve.parse(["--event-loops", bad])
                Issue.record("--event-loops \(bad) was accepted")
            } catch {
                #expect(Tern.Serve.fullMessage(for: error).contains("--event-loops"), "\(bad): \(Tern.Serve.fullMessage(for: error))")
            }
        }
    }

    @Test("a changed count is saved with the server options and a default one is not")
    func countIsKeptInTheSavedArguments() throws {
        #expect(try Tern.Serve.parse(["--event-loops", "2"]).options.arguments == ["--event-loops", "2"])
        #expect(try Tern.Serve.parse([]).options.arguments.isEmpty)
    }
}
