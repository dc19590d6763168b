import ArgumentParser
import TernCore
import Testing

@testable import TernCLI

/// `tern serve --cost-per-cpu-hour/--cost-per-gpu-hour/--cost-per-gib-hour`: the prices of the
/// cost `tern get` shows.
@Suite struct CostOptionsTests {
    @Test func noPriceMeansNoPricing() throws {
        #expect(try ServerOptions.parse([]).pricing == nil)
    }

    @Test func pricesNotGivenCountAsZeroAndAreSavedWithTheOtherOptions() throws {
        let options = try ServerOptions.parse(["--cost-per-cpu-hour", "0.04", "--cost-per-gib-hour", "0.005"])
        #expect(options.pricing == ComputePricing(cpuHour: 0.04, gpuHour: 0, gibHour: 0.005))
        // server-options.json keeps them, so a server started later on demand has them too.
        #expect(options.arguments == ["--cost-per-cpu-hour", "0.04", "--cost-per-gib-hour", "0.005"])
        #expect(try ServerOptions.parse(options.arguments).pricing == options.pricing)
    }

    @Test func aNegativeOrInfinitePriceIsRefusedNamingTheOption() {
        #expect(throws: (any Error).self) { try ServerOptions.parse(["--cost-per-gpu-hour=-1"]) }
        do {
            _ = try ServerOptions.parse(["--cost-per-gpu-hour=-1"])
        } catch {
            #expect(ServerOptions.message(for: error) == "--cost-per-gpu-hour: must be a price of 0 or more (got -1.0)")
        }
        #expect(throws: (any Error).self) { try ServerOptions.parse(["--cost-per-cpu-hour", "inf"]) }
    }
}
