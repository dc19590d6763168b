import TernCore
import Testing

@testable import TernSupervisor

/// `compute.mem` as a request: when a replica is over it, back under, and when there is nothing
/// to watch.
@Suite struct MemoryRequestWatchTests {
    private let mib: Int64 = 1 << 20

    @Test func nothingToWatchWithoutARequestOrWithALimitAtTheRequest() {
        #expect(MemoryRequestWatch(ComputeSpec()) == nil)
        #expect(MemoryRequestWatch(ComputeSpec(memLimitBytes: 256 << 20)) == nil)
        #expect(MemoryRequestWatch(ComputeSpec(memBytes: 256 << 20, memLimitBytes: 256 << 20)) == nil)
        #expect(MemoryRequestWatch(ComputeSpec(memBytes: 128 << 20, memLimitBytes: 256 << 20))?.requestBytes == 128 << 20)
        #expect(MemoryRequestWatch(ComputeSpec(memBytes: 100_000_000))?.requestBytes == 100_000_000)
    }

    @Test func goingOverIsReportedOnceThenAsStillOverUntilWellUnder() throws {
        var watch = try #require(MemoryRequestWatch(ComputeSpec(memBytes: 100_000_000)))
        #expect(watch.record(residentBytes: 60 * mib) == nil)
        #expect(watch.record(residentBytes: 180 * mib) == .wentOver("uses 180Mi, over its compute.mem request of 100M"))
        #expect(watch.isOver)
        #expect(watch.record(residentBytes: 200 * mib) == .over("uses 200Mi, over its compute.mem request of 100M"))
        // Under the request but above 90 % of it: still counted as over (no flapping).
        #expect(watch.record(residentBytes: 92 * mib) == nil)
        #expect(watch.isOver)
        #expect(watch.record(residentBytes: 80 * mib) == .cameBack("uses 80Mi again, under its compute.mem request of 100M"))
        #expect(!watch.isOver)
        #expect(watch.record(residentBytes: 50 * mib) == nil)
        #expect(watch.record(residentBytes: 101 * mib) == .wentOver("uses 101Mi, over its compute.mem request of 100M"))
    }

    @Test func usageIsShownInMiBAndFromTenGiBInGiB() {
        #expect(MemoryRequestWatch.format(0) == "0Mi")
        #expect(MemoryRequestWatch.format(1_572_864) == "2Mi")
        #expect(MemoryRequestWatch.format(10 << 30) == "10Gi")
        #expect(MemoryRequestWatch.format((25 << 29)) == "12.5Gi")
    }
}
