import Foundation
import TernCore

/// Places replicas on this machine's compute capacity (pure): `compute.cpu`, `compute.mem` and
/// `compute.gpu` are requests, as Kubernetes' resource requests on one node. A replica starts only
/// once its request fits in what other replicas have not reserved; GPUs are whole devices,
/// assigned by id (lowest free first).
///
/// ```swift
/// var planner = ResourcePlanner(capacity: .init(millicores: 1000, memoryBytes: 8 << 30, gpuIDs: []))
/// planner.reserve("a", .init(millicores: 600))   // a Reservation
/// planner.reserve("b", .init(millicores: 600))   // nil: 400m free
/// planner.release("a")
/// planner.reserve("b", .init(millicores: 600))   // a Reservation
/// ```
public struct ResourcePlanner: Sendable, Equatable {
    /// What one replica asks for.
    public struct Request: Sendable, Equatable {
        /// CPU in millicores (1000 = one core).
        public var millicores: Int
        /// Memory in bytes (0 = no memory request).
        public var memoryBytes: Int64
        /// Whole GPUs.
        public var gpus: Int

        /// Memberwise initialiser; everything defaults to 0.
        public init(millicores: Int = 0, memoryBytes: Int64 = 0, gpus: Int = 0) {
            self.millicores = millicores
            self.memoryBytes = memoryBytes
            self.gpus = gpus
        }

        /// The request of one replica of an API: `compute.cpu`, `compute.mem` (0 when unset),
        /// `compute.gpu`.
        public init(_ compute: ComputeSpec) {
            self.init(millicores: compute.cpuMillicores, memoryBytes: compute.memBytes ?? 0, gpus: compute.gpu)
        }
    }

    /// An amount of compute: what the machine offers, what is left of it (``free``), or what
    /// one replica holds (``Reservation``).
    public struct Capacity: Sendable, Equatable {
        /// CPU in millicores (cores × 1000).
        public var millicores: Int
        /// Memory in bytes.
        public var memoryBytes: Int64
        /// GPU ids as `CUDA_VISIBLE_DEVICES` names them (`"0"`, `"1"`, …), in order.
        public var gpuIDs: [String]

        /// Memberwise initialiser.
        public init(millicores: Int, memoryBytes: Int64, gpuIDs: [String]) {
            self.millicores = millicores
            self.memoryBytes = memoryBytes
            self.gpuIDs = gpuIDs
        }

        /// `2 CPU, 23Gi memory, 0 GPUs` (for logs and messages).
        public var summary: String {
            "\(Quantity.formatMillicores(millicores)) CPU, \(ResourcePlanner.formatMemory(memoryBytes)) memory, "
                + (gpuIDs.isEmpty ? "0 GPUs" : "\(gpuIDs.count) GPU(s) (\(gpuIDs.joined(separator: ",")))")
        }
    }

    /// What one replica holds while it runs (the same three amounts as ``Capacity``; its
    /// `gpuIDs` become the replica's `CUDA_VISIBLE_DEVICES`).
    public typealias Reservation = Capacity

    /// The whole machine.
    public let capacity: Capacity
    /// Reservations by replica id.
    public private(set) var allocations: [String: Reservation] = [:]

    /// Creates a planner with nothing reserved.
    public init(capacity: Capacity) {
        self.capacity = capacity
    }

    /// What is not reserved: capacity minus every allocation; GPU ids keep capacity order.
    public var free: Capacity {
        let taken = allocations.values
        let usedGPUs = Set(taken.flatMap(\.gpuIDs))
        return Capacity(
            millicores: capacity.millicores - taken.reduce(0) { $0 + $1.millicores },
            memoryBytes: capacity.memoryBytes - taken.reduce(0) { $0 + $1.memoryBytes },
            gpuIDs: capacity.gpuIDs.filter { !usedGPUs.contains($0) })
    }

    /// Reserves `request` for `replicaID` and returns the reservation, or nil when it does not fit
    /// in ``free``. A replica that already holds a reservation gets that one back.
    public mutating func reserve(_ replicaID: String, _ request: Request) -> Reservation? {
        if let existing = allocations[replicaID] { return existing }
        let free = self.free
        guard request.millicores <= free.millicores, request.memoryBytes <= free.memoryBytes,
            request.gpus <= free.gpuIDs.count
        else { return nil }
        let reservation = Reservation(
            millicores: request.millicores, memoryBytes: request.memoryBytes,
            gpuIDs: Array(free.gpuIDs.prefix(max(0, request.gpus))))
        allocations[replicaID] = reservation
        return reservation
    }

    /// Returns what `replicaID` held to the free pool (no-op when it held nothing).
    public mutating func release(_ replicaID: String) {
        allocations[replicaID] = nil
    }

    /// Why `request` does not fit now, for the API's status, e.g.
    /// `waiting for compute: needs 600m CPU, 1Gi memory; free 400m CPU, 7Gi memory (not enough CPU)`.
    ///
    /// Memory and GPUs are named only when requested. A request larger than the whole machine
    /// says so, since waiting will not help.
    public func waitingMessage(for request: Request) -> String {
        let free = self.free
        var needs = ["\(Quantity.formatMillicores(request.millicores)) CPU"]
        var has = ["\(Quantity.formatMillicores(max(0, free.millicores))) CPU"]
        var short: [String] = []
        var never: [String] = []
        if request.millicores > free.millicores { short.append("CPU") }
        if request.millicores > capacity.millicores {
            never.append("only \(Quantity.formatMillicores(capacity.millicores)) CPU (`tern serve --cpus` sets it)")
        }
        if request.memoryBytes > 0 {
            needs.append("\(Self.formatMemory(request.memoryBytes)) memory")
            has.append("\(Self.formatMemory(max(0, free.memoryBytes))) memory")
            if request.memoryBytes > free.memoryBytes { short.append("memory") }
            if request.memoryBytes > capacity.memoryBytes {
                never.append("only \(Self.formatMemory(capacity.memoryBytes)) memory (`tern serve --memory` sets it)")
            }
        }
        if request.gpus > 0 {
            needs.append("\(request.gpus) GPU(s)")
            has.append("\(free.gpuIDs.count) GPU(s)")
            if request.gpus > free.gpuIDs.count { short.append("GPUs") }
            if request.gpus > capacity.gpuIDs.count {
                never.append(capacity.gpuIDs.isEmpty ? "no GPU (`nvidia-smi -L` lists none)" : "only \(capacity.gpuIDs.count) GPU(s)")
            }
        }
        var message = "waiting for compute: needs \(needs.joined(separator: ", ")); free \(has.joined(separator: ", "))"
        if !short.isEmpty { message += " (not enough \(short.joined(separator: ", ")))" }
        if !never.isEmpty {
            message += "; it will never fit: this machine has \(never.joined(separator: ", "))"
        }
        return message
    }

    /// Memory for messages, in the largest binary unit from Mi up: whole when exact (`1Gi`),
    /// else rounded down to a tenth (`24_683_652 KiB` → `23.5Gi`); below 1Mi as
    /// `Quantity.formatBytes` writes it.
    static func formatMemory(_ bytes: Int64) -> String {
        for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20)] where bytes >= Int64(1) << shift {
            let whole = bytes >> shift
            if whole << shift == bytes { return "\(whole)\(suffix)" }
            let tenths = ((bytes - (whole << shift)) * 10) >> shift
            return "\(whole).\(tenths)\(suffix)"
        }
        return Quantity.formatBytes(bytes)
    }
}

/// This machine's capacity: detection (I/O) and the parsers it uses (pure).
public enum MachineResources {
    /// The capacity of this machine: `ProcessInfo.activeProcessorCount` × 1000 millicores,
    /// `MemTotal` of `/proc/meminfo` (or `ProcessInfo.physicalMemory`), and the GPUs
    /// `nvidia-smi -L` lists (none when it is not installed or fails). `millicores` and
    /// `memoryBytes`, when given, replace the detected values (`tern serve --cpus/--memory`).
    public static func detect(millicores: Int? = nil, memoryBytes: Int64? = nil) -> ResourcePlanner.Capacity {
        let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        return ResourcePlanner.Capacity(
            millicores: millicores ?? ProcessInfo.processInfo.activeProcessorCount * 1000,
            memoryBytes: memoryBytes ?? meminfo.flatMap(memTotal(meminfo:))
                ?? Int64(clamping: ProcessInfo.processInfo.physicalMemory),
            gpuIDs: nvidiaSMIOutput().map(gpuIDs(nvidiaSMIList:)) ?? [])
    }

    /// `MemTotal` of a `/proc/meminfo` text, in bytes (`MemTotal:  24683652 kB` → 25 276 059 648),
    /// or nil when the line is missing or malformed.
    public static func memTotal(meminfo: String) -> Int64? {
        for line in meminfo.split(whereSeparator: \.isNewline) where line.hasPrefix("MemTotal:") {
            let fields = line.dropFirst("MemTotal:".count).split(separator: " ", omittingEmptySubsequences: true)
            guard let value = fields.first.flatMap({ Int64($0) }) else { return nil }
            switch fields.dropFirst().first?.lowercased() {
            case "kb": return value * 1024
            case "mb": return value * 1024 * 1024
            case nil, "b": return value
            default: return nil
            }
        }
        return nil
    }

    /// GPU indices from `nvidia-smi -L` output, whose lines read
    /// `GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)`; other lines (MIG devices, blanks) are skipped.
    public static func gpuIDs(nvidiaSMIList output: String) -> [String] {
        output.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("GPU ") else { return nil }
            let index = trimmed.dropFirst(4).prefix { $0 != ":" }
            guard !index.isEmpty, index.allSatisfy(\.isASCII), index.allSatisfy(\.isNumber),
                trimmed.dropFirst(4 + index.count).first == ":"
            else { return nil }
            return String(index)
        }
    }

    /// Runs `nvidia-smi -L` when it is on `PATH`; nil when it is absent, fails, or takes more
    /// than 10 s.
    static func nvidiaSMIOutput() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let executable = path.split(separator: ":").map({ "\($0)/nvidia-smi" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-L"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(10)
        let output = Data.Box()
        let reader = Thread { output.value = pipe.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        while output.value == nil && Date() < deadline.addingTimeInterval(1) { Thread.sleep(forTimeInterval: 0.01) }
        guard process.terminationStatus == 0, let data = output.value else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Data {
    /// A box for data read on another thread.
    fileprivate final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Data?
        var value: Data? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }
}

/// The machine's capacity shared by every replica of every API: a ``ResourcePlanner`` behind an
/// actor, so that runners reserve and release concurrently.
actor ComputePool {
    private var planner: ResourcePlanner
    /// The whole machine.
    nonisolated let capacity: ResourcePlanner.Capacity

    /// Creates a pool with nothing reserved.
    init(capacity: ResourcePlanner.Capacity) {
        self.planner = ResourcePlanner(capacity: capacity)
        self.capacity = capacity
    }

    /// The reservation of `replicaID`, or why it does not fit (``ResourcePlanner/waitingMessage(for:)``).
    func reserve(_ replicaID: String, _ request: ResourcePlanner.Request) -> Result<ResourcePlanner.Reservation, WaitingForCompute> {
        if let reservation = planner.reserve(replicaID, request) { return .success(reservation) }
        return .failure(WaitingForCompute(message: planner.waitingMessage(for: request)))
    }

    /// Frees what `replicaID` holds.
    func release(_ replicaID: String) {
        planner.release(replicaID)
    }
}

/// A request that does not fit now, with the message for the API's status.
struct WaitingForCompute: Error, Equatable {
    var message: String
}
