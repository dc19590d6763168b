import TernCore
import Testing

@testable import TernSupervisor

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ResourcePlannerTests {
    private let gib: Int64 = 1 << 30

    private func planner(millicores: Int = 1000, memory: Int64 = 8 << 30, gpus: [String] = []) -> ResourcePlanner {
        ResourcePlanner(capacity: .init(millicores: millicores, memoryBytes: memory, gpuIDs: gpus))
    }

    @Test func requestsThatFitAreReservedUntilCapacityRunsOut() throws {
        var planner = planner()
        let first = planner.reserve("a", .init(millicores: 600, memoryBytes: gib))
        #expect(first == .init(millicores: 600, memoryBytes: gib, gpuIDs: []))
        #expect(planner.free == .init(millicores: 400, memoryBytes: 7 * gib, gpuIDs: []))
        #expect(planner.reserve("b", .init(millicores: 400, memoryBytes: 7 * gib)) != nil)
        #expect(planner.free == .init(millicores: 0, memoryBytes: 0, gpuIDs: []))
        #expect(planner.reserve("c", .init(millicores: 1)) == nil)
        #expect(planner.reserve("d", .init(millicores: 0, memoryBytes: 0)) != nil, "an empty request always fits")
    }

    @Test func requestThatDoesNotFitIsNotReserved() {
        var planner = planner()
        #expect(planner.reserve("a", .init(millicores: 600)) != nil)
        #expect(planner.reserve("b", .init(millicores: 600)) == nil)
        #expect(planner.reserve("c", .init(millicores: 100, memoryBytes: 9 * gib)) == nil, "memory short")
        #expect(planner.allocations.keys.sorted() == ["a"])
        #expect(planner.free.millicores == 400)
    }

    @Test func releaseMakesRoomForAWaitingRequest() {
        var planner = planner()
        #expect(planner.reserve("a", .init(millicores: 600)) != nil)
        #expect(planner.reserve("b", .init(millicores: 600)) == nil)
        planner.release("a")
        #expect(planner.free.millicores == 1000)
        #expect(planner.reserve("b", .init(millicores: 600)) != nil)
        planner.release("unknown")  // no-op
        #expect(planner.free.millicores == 400)
    }

    @Test func reservingTwiceReturnsTheSameReservation() {
        var planner = planner(gpus: ["0", "1"])
        let first = planner.reserve("a", .init(millicores: 600, gpus: 1))
        #expect(planner.reserve("a", .init(millicores: 600, gpus: 1)) == first)
        #expect(planner.free.millicores == 400)
        #expect(planner.free.gpuIDs == ["1"])
    }

    @Test func gpusAreAssignedLowestFreeFirstAndReturnedOnRelease() {
        var planner = planner(millicores: 8000, gpus: ["0", "1", "2"])
        let a = planner.reserve("a", .init(gpus: 1))
        let b = planner.reserve("b", .init(gpus: 2))
        let c = planner.reserve("c", .init(gpus: 1))
        let d = planner.reserve("d", .init(millicores: 100))
        #expect(a?.gpuIDs == ["0"])
        #expect(b?.gpuIDs == ["1", "2"])
        #expect(c == nil)
        #expect(d?.gpuIDs == [])
        planner.release("a")
        let again = planner.reserve("c", .init(gpus: 1))
        #expect(again?.gpuIDs == ["0"])
    }

    @Test func gpuRequestWaitsOnAMachineWithoutGPUs() {
        var planner = planner()
        #expect(planner.reserve("a", .init(millicores: 100, gpus: 1)) == nil)
        let message = planner.waitingMessage(for: .init(millicores: 100, gpus: 1))
        #expect(
            message
                == "waiting for compute: needs 100m CPU, 1 GPU(s); free 1 CPU, 0 GPU(s) (not enough GPUs); it will never fit: this machine has no GPU (`nvidia-smi -L` lists none)"
        )
    }

    @Test func waitingMessageSaysWhatIsNeededWhatIsFreeAndWhatIsShort() {
        var planner = planner()
        _ = planner.reserve("a", .init(millicores: 600, memoryBytes: 7 * gib + (512 << 20)))
        #expect(
            planner.waitingMessage(for: .init(millicores: 600))
                == "waiting for compute: needs 600m CPU; free 400m CPU (not enough CPU)")
        #expect(
            planner.waitingMessage(for: .init(millicores: 500, memoryBytes: gib))
                == "waiting for compute: needs 500m CPU, 1Gi memory; free 400m CPU, 512Mi memory (not enough CPU, memory)")
        #expect(
            planner.waitingMessage(for: .init(millicores: 100, memoryBytes: gib))
                == "waiting for compute: needs 100m CPU, 1Gi memory; free 400m CPU, 512Mi memory (not enough memory)")
    }

    @Test func waitingMessageSaysWhenARequestCanNeverFit() {
        let message = planner().waitingMessage(for: .init(millicores: 1500, memoryBytes: 16 << 30))
        #expect(message.hasSuffix(
            "; it will never fit: this machine has only 1 CPU (`tern serve --cpus` sets it), only 8Gi memory (`tern serve --memory` sets it)"
        ), "\(message)")
    }

    @Test func requestComesFromComputeSpec() {
        #expect(ResourcePlanner.Request(ComputeSpec()) == .init(millicores: 200, memoryBytes: 0, gpus: 0))
        #expect(
            ResourcePlanner.Request(ComputeSpec(cpuMillicores: 1500, gpu: 2, memBytes: 1 << 30))
                == .init(millicores: 1500, memoryBytes: 1 << 30, gpus: 2))
    }

    @Test(arguments: [
        (Int64(1) << 30, "1Gi"), (Int64(24_683_652) * 1024, "23.5Gi"), (Int64(512) << 20, "512Mi"),
        (Int64(1536) << 20, "1.5Gi"), (Int64(1000), "1k"), (Int64(0), "0"),
    ])
    func memoryIsFormattedForMessages(bytes: Int64, text: String) {
        #expect(ResourcePlanner.formatMemory(bytes) == text)
    }

    @Test func capacitySummaryNamesEveryResource() {
        #expect(
            ResourcePlanner.Capacity(millicores: 2000, memoryBytes: 8 << 30, gpuIDs: []).summary
                == "2 CPU, 8Gi memory, 0 GPUs")
        #expect(
            ResourcePlanner.Capacity(millicores: 1500, memoryBytes: 8 << 30, gpuIDs: ["0", "1"]).summary
                == "1500m CPU, 8Gi memory, 2 GPU(s) (0,1)")
    }
}

@Suite struct MachineResourcesTests {
    @Test func memTotalIsReadFromMeminfoInBytes() {
        let meminfo = """
            MemTotal:       24683652 kB
            MemFree:        20000000 kB
            MemAvailable:   22000000 kB
            """
        #expect(MachineResources.memTotal(meminfo: meminfo) == Int64(24_683_652) * 1024)
    }

    @Test(arguments: ["", "MemFree: 1 kB", "MemTotal: lots kB", "MemTotal: 12 GB"])
    func malformedMeminfoGivesNil(text: String) {
        #expect(MachineResources.memTotal(meminfo: text) == nil)
    }

    @Test func gpuIndicesAreParsedFromNvidiaSMIList() {
        let output = """
            GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5b1c6a3e-0000-0000-0000-000000000000)
              MIG 1g.5gb      Device  0: (UUID: MIG-11111111-2222-3333-4444-555555555555)
            GPU 1: Tesla T4 (UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)

            GPU 10: Tesla T4 (UUID: GPU-ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee)
            """
        #expect(MachineResources.gpuIDs(nvidiaSMIList: output) == ["0", "1", "10"])
    }

    @Test(arguments: [
        "", "No devices were found", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
        "GPU x: broken", "GPU 0 no colon",
    ])
    func outputWithoutGPULinesGivesNoGPUs(output: String) {
        #expect(MachineResources.gpuIDs(nvidiaSMIList: output) == [])
    }

    @Test func detectionUsesTheOverrides() {
        let capacity = MachineResources.detect(millicores: 1500, memoryBytes: 1 << 30)
        #expect(capacity.millicores == 1500)
        #expect(capacity.memoryBytes == 1 << 30)
    }

    @Test func detectionDefaultsToThisMachine() {
        let capacity = MachineResources.detect()
        #expect(capacity.millicores >= 1000)
        #expect(capacity.memoryBytes > 64 << 20)
    }
}

@Suite struct MemoryLimiterTests {
    @Test func memoryCgroupIsFoundInProcSelfCgroup() {
        let text = """
            9:name=systemd:/
            4:memory:/process_api/8ff365ca
            1:cpu:/
            0::/
            """
        #expect(CgroupV1.memoryCgroupPath(procSelfCgroup: text) == "/process_api/8ff365ca")
        #expect(CgroupV1.memoryCgroupPath(procSelfCgroup: "5:cpu,memory:/\n") == "/")
        #expect(CgroupV1.memoryCgroupPath(procSelfCgroup: "0::/user.slice\n") == nil, "cgroup v2 only")
    }

    @Test func oomKillCounterDecidesWhenTheKernelHasIt() {
        let killed = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"
        let clean = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
        #expect(CgroupV1.oomKillCount(oomControl: killed) == 1)
        #expect(CgroupV1.wasOutOfMemory(oomControl: killed, failcnt: 0, maxUsage: 0, limit: 100, killed: false))
        #expect(!CgroupV1.wasOutOfMemory(oomControl: clean, failcnt: 5, maxUsage: 100, limit: 100, killed: true))
    }

    @Test func olderKernelsFallBackToFailcntAndPeakUsageAfterASIGKILL() {
        let old = "oom_kill_disable 0\nunder_oom 0\n"
        #expect(CgroupV1.oomKillCount(oomControl: old) == nil)
        #expect(CgroupV1.wasOutOfMemory(oomControl: old, failcnt: 3, maxUsage: 10, limit: 100, killed: true))
        #expect(CgroupV1.wasOutOfMemory(oomControl: nil, failcnt: 0, maxUsage: 100, limit: 100, killed: true))
        #expect(!CgroupV1.wasOutOfMemory(oomControl: old, failcnt: 3, maxUsage: 100, limit: 100, killed: false))
        #expect(!CgroupV1.wasOutOfMemory(oomControl: old, failcnt: 0, maxUsage: 50, limit: 100, killed: true))
    }

    @Test func procStatFieldsAreCountedFromTheLastParenthesis() throws {
        let text = "1234 (python (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 100 123456789 3000 18446744073709551615 0"
        let stat = try #require(ProcStat(text))
        #expect(stat.state == "S")
        #expect(stat.processGroup == 1234)
        #expect(stat.session == 1234)
        #expect(stat.residentPages == 3000)
        #expect(ProcStat("garbage") == nil)
    }

    @Test func rssOfThisProcessIsPositive() {
        let me = getpid()
        #expect(ProcessGroupMemory.residentBytes(of: [me]) > 1 << 20)
    }
}
