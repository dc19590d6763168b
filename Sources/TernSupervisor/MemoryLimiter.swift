import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How `compute.mem_limit` is enforced on replicas (`tern serve --memory-limiter`).
public enum MemoryEnforcement: String, Sendable, CaseIterable {
    /// The cgroup v1 memory controller when it is writable, else the RSS watchdog (the default).
    case automatic = "auto"
    /// The cgroup v1 memory controller (falls back to the watchdog, with a warning, when not writable).
    case cgroup
    /// The RSS watchdog, even where cgroups are writable.
    case watchdog
}

/// Enforces `compute.mem_limit` on replica process groups: a replica over its limit is killed
/// (SIGKILL), and the runner learns afterwards that the kill was for memory.
protocol MemoryLimiter: Sendable {
    /// Which mechanism is active, for the server log.
    var summary: String { get }
    /// Sets up a limit of `bytes` for one run of `replicaID`. Call before spawning the process,
    /// then ``MemoryLimit/attach(pid:)`` right after.
    func makeLimit(replicaID: String, bytes: Int64) -> any MemoryLimit
    /// Removes what the limiter created at start, once every replica is gone.
    func shutdown()
}

/// The memory limit of one run of one replica.
protocol MemoryLimit: Sendable {
    /// Puts the process group led by `pid` (just spawned) under the limit.
    func attach(pid: Int32)
    /// Whether the run ended because the group went over the limit. Call after the process
    /// exited and before ``release()``; `killed` tells whether it died by SIGKILL (or exited 137).
    func wasOutOfMemory(killed: Bool) -> Bool
    /// Checks the limit now, killing the group when it is over; false when it was. Called just
    /// before a replica is attached, so a predictor that loads over the limit faster than a
    /// sampling limiter looks never serves (the kernel's cgroup limit needs no check).
    func enforceNow() -> Bool
    /// Frees the limit's resources; call once the process group is gone.
    func release() async
}

/// Chooses the limiter for ``MemoryEnforcement`` on this machine.
enum MemoryLimiters {
    /// The cgroup v1 limiter when `enforcement` allows it and the controller is writable, else the
    /// RSS watchdog; logs which one is active (and why the cgroup one is not).
    static func make(_ enforcement: MemoryEnforcement, logger: Logger) -> any MemoryLimiter {
        var reason = "--memory-limiter watchdog"
        if enforcement != .watchdog {
            switch CgroupV1MemoryLimiter.probe(logger: logger) {
            case .success(let limiter):
                logger.info("compute.mem_limit is enforced by \(limiter.summary)")
                return limiter
            case .failure(let error):
                reason = error.description
            }
        }
        let watchdog = RSSWatchdogLimiter(logger: logger)
        if enforcement == .cgroup {
            logger.warning("cannot use the cgroup v1 memory controller (\(reason)); compute.mem_limit is enforced by \(watchdog.summary)")
        } else {
            logger.info("compute.mem_limit is enforced by \(watchdog.summary) (\(reason))")
        }
        return watchdog
    }
}

// MARK: - cgroup v1

/// Enforces `compute.mem_limit` with the cgroup v1 memory controller: one cgroup per replica run,
/// `<memory mount>/<this server's cgroup>/tern/<replica-id>`, nested under the server's own
/// cgroup so that the limits of whatever contains the server still apply. `tern/` exists only
/// while replicas with a limit run: an empty child cgroup left behind would keep whoever manages
/// the server's cgroup from removing it.
///
/// The kernel OOM-kills a process of the group when the group's memory (swap included, where
/// `memory.memsw.limit_in_bytes` exists) goes over the limit; the `oom_kill` counter of
/// `memory.oom_control` then tells the runner it was an out-of-memory kill.
struct CgroupV1MemoryLimiter: MemoryLimiter {
    /// The folder holding the replicas' cgroups (`…/tern`).
    let directory: String
    let logger: Logger

    var summary: String { "the cgroup v1 memory controller (\(directory)/<replica-id>)" }

    /// Why the controller cannot be used.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// Finds this process's memory cgroup under `mount` and checks once that a child cgroup can
    /// be created and limited there (creating and removing a probe cgroup). Removes empty
    /// replica cgroups older than a minute (left by a server that was killed), then `tern/` when
    /// it is empty.
    static func probe(
        mount: String = "/sys/fs/cgroup/memory", selfCgroup: String = "/proc/self/cgroup", logger: Logger
    ) -> Result<CgroupV1MemoryLimiter, Unavailable> {
        guard FileManager.default.fileExists(atPath: mount + "/memory.limit_in_bytes") else {
            return .failure(Unavailable(description: "no cgroup v1 memory controller is mounted at \(mount)"))
        }
        guard let text = try? String(contentsOfFile: selfCgroup, encoding: .utf8),
            let own = CgroupV1.memoryCgroupPath(procSelfCgroup: text)
        else {
            return .failure(Unavailable(description: "\(selfCgroup) names no memory cgroup"))
        }
        // Without a cgroup namespace, a container sees the host's path of its cgroup but has it
        // mounted as the root: use the root then.
        var isDirectory: ObjCBool = false
        let nested = own != "/" && FileManager.default.fileExists(atPath: mount + own, isDirectory: &isDirectory)
        let parent = nested && isDirectory.boolValue ? mount + own : mount
        let directory = parent + "/tern"
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            return .failure(Unavailable(description: "cannot create \(directory): \(String(cString: strerror(errno)))"))
        }
        let probe = directory + "/probe-\(getpid())"
        defer {
            rmdir(probe)
            rmdir(directory)  // fails (harmlessly) while replicas of another server use it
        }
        if mkdir(probe, 0o755) != 0 && errno != EEXIST {
            return .failure(Unavailable(description: "cannot create \(probe): \(String(cString: strerror(errno)))"))
        }
        if let error = CgroupV1.writeFile("\(64 << 20)", to: probe + "/memory.limit_in_bytes") {
            return .failure(Unavailable(description: "cannot write \(probe)/memory.limit_in_bytes: \(error)"))
        }
        removeStale(in: directory)
        return .success(CgroupV1MemoryLimiter(directory: directory, logger: logger))
    }

    /// Removes replica cgroups under `directory` that are older than a minute; `rmdir` fails on
    /// a cgroup that still has processes, so live ones stay.
    private static func removeStale(in directory: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + entry
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeDirectory,
                let modified = attributes[.modificationDate] as? Date, modified.timeIntervalSinceNow < -60
            else { continue }
            rmdir(path)
        }
    }

    func makeLimit(replicaID: String, bytes: Int64) -> any MemoryLimit {
        let path = directory + "/" + replicaID
        rmdir(path)  // left over from an earlier run of this replica, if any
        var failure: String?
        // `tern/` comes and goes with the replicas that use it (another runner may remove it
        // between our two mkdirs): retry a few times.
        for attempt in 1...3 {
            mkdir(directory, 0o755)
            if mkdir(path, 0o755) == 0 { break }
            if attempt == 3 { failure = "cannot create \(path): \(String(cString: strerror(errno)))" }
        }
        if failure == nil, let error = CgroupV1.writeFile("\(bytes)", to: path + "/memory.limit_in_bytes") {
            failure = "cannot write \(path)/memory.limit_in_bytes: \(error)"
            rmdir(path)
        }
        if let failure {
            rmdir(directory)
            logger.warning("\(failure); replica \(replicaID) falls back to the RSS watchdog for this run")
            return RSSWatchdogLimit(bytes: bytes)
        }
        // Without a swap limit the group would swap instead of being killed (where swap exists).
        _ = CgroupV1.writeFile("\(bytes)", to: path + "/memory.memsw.limit_in_bytes")
        return CgroupV1Limit(path: path, bytes: bytes, logger: logger)
    }

    func shutdown() {
        rmdir(directory)  // fails (harmlessly) while replicas (of any server) use it
    }
}

/// One replica run's cgroup.
final class CgroupV1Limit: MemoryLimit {
    let path: String
    let bytes: Int64
    private let logger: Logger
    /// Used when the pid cannot be moved into the cgroup.
    private let fallback = Mutex<RSSWatchdogLimit?>(nil)

    init(path: String, bytes: Int64, logger: Logger) {
        self.path = path
        self.bytes = bytes
        self.logger = logger
    }

    func attach(pid: Int32) {
        if let error = CgroupV1.writeFile("\(pid)", to: path + "/cgroup.procs") {
            logger.warning("cannot move replica pid \(pid) into \(path) (\(error)); using the RSS watchdog for this run")
            let watchdog = RSSWatchdogLimit(bytes: bytes)
            fallback.withLock { $0 = watchdog }
            watchdog.attach(pid: pid)
            return
        }
        // Children inherit the cgroup; move any the replica forked before we got here.
        for member in ProcessGroupMemory.members(ofSession: pid) where member != pid {
            _ = CgroupV1.writeFile("\(member)", to: path + "/cgroup.procs")
        }
    }

    func wasOutOfMemory(killed: Bool) -> Bool {
        if let watchdog = fallback.withLock({ $0 }) { return watchdog.wasOutOfMemory(killed: killed) }
        let read = { (name: String) in try? String(contentsOfFile: self.path + "/" + name, encoding: .utf8) }
        return CgroupV1.wasOutOfMemory(
            oomControl: read("memory.oom_control"),
            failcnt: read("memory.failcnt").flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
            maxUsage: read("memory.max_usage_in_bytes").flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
            limit: bytes, killed: killed)
    }

    func enforceNow() -> Bool { true }  // the kernel enforces the cgroup limit

    func release() async {
        if let watchdog = fallback.withLock({ $0 }) { await watchdog.release() }
        // The group was SIGKILLed; its processes may take a moment to go. Anything that left the
        // process group is still in the cgroup: kill it too.
        let parent = (path as NSString).deletingLastPathComponent
        for _ in 0..<250 {
            if rmdir(path) == 0 || errno == ENOENT {
                rmdir(parent)  // `tern/`, once no replica uses it
                return
            }
            let procs = (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(whereSeparator: \.isNewline).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        logger.warning("could not remove \(path): \(String(cString: strerror(errno)))")
    }
}

/// Pure helpers for cgroup v1 files.
enum CgroupV1 {
    /// This process's memory cgroup from `/proc/self/cgroup` text (`4:memory:/a/b` → `/a/b`;
    /// controllers may be listed together, `4:cpu,memory:/a`), or nil when none is listed.
    static func memoryCgroupPath(procSelfCgroup text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[1].split(separator: ",").contains("memory") else { continue }
            let path = String(fields[2])
            return path.hasPrefix("/") ? path : nil
        }
        return nil
    }

    /// The `oom_kill` counter of a `memory.oom_control` text (kernels from 4.13 have it), or nil.
    static func oomKillCount(oomControl text: String) -> Int? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "oom_kill" { return Int(fields[1]) }
        }
        return nil
    }

    /// Whether a run ended in an out-of-memory kill: the `oom_kill` counter when the kernel has
    /// one; otherwise a SIGKILL while the group had hit its limit (`failcnt` > 0 or peak usage at
    /// the limit).
    static func wasOutOfMemory(oomControl: String?, failcnt: Int64?, maxUsage: Int64?, limit: Int64, killed: Bool) -> Bool {
        if let count = oomControl.flatMap(oomKillCount(oomControl:)) { return count > 0 }
        guard killed else { return false }
        return (failcnt ?? 0) > 0 || (maxUsage ?? 0) >= limit
    }

    /// Writes `text` to a cgroup file (no create, no truncate semantics needed); returns the
    /// error text, or nil on success.
    static func writeFile(_ text: String, to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == bytes.count ? nil : String(cString: strerror(errno))
    }
}

// MARK: - RSS watchdog

/// Enforces `compute.mem_limit` where no cgroup memory controller is writable: every 250 ms it sums
/// the resident set size (RSS) of the replica's processes (its session, from `/proc`) and
/// SIGKILLs them all once the sum is over the limit.
///
/// Coarser than a cgroup: a fast allocation can overshoot for up to one interval, and pages
/// shared by forked workers are counted once per process.
struct RSSWatchdogLimiter: MemoryLimiter {
    let logger: Logger
    var summary: String { "an RSS watchdog (the replica's processes are checked every 250 ms)" }

    func makeLimit(replicaID: String, bytes: Int64) -> any MemoryLimit {
        RSSWatchdogLimit(bytes: bytes)
    }

    func shutdown() {}
}

/// One replica run watched by the RSS watchdog.
final class RSSWatchdogLimit: MemoryLimit {
    /// The limit in bytes.
    let bytes: Int64
    /// Time between checks. Default 250 ms.
    let interval: Duration
    private struct State {
        var task: Task<Void, Never>?
        var pid: Int32?
        var killed = false
    }
    private let state = Mutex(State())

    init(bytes: Int64, interval: Duration = .milliseconds(250)) {
        self.bytes = bytes
        self.interval = interval
    }

    func attach(pid: Int32) {
        state.withLock { $0.pid = pid }
        let task = Task.detached { [self] in
            while !Task.isCancelled {
                if ProcessGroupMemory.members(ofSession: pid).isEmpty || killIfOver(pid) { return }
                try? await Task.sleep(for: interval)
            }
        }
        state.withLock { $0.task = task }
    }

    func wasOutOfMemory(killed: Bool) -> Bool {
        state.withLock { $0.killed }
    }

    func enforceNow() -> Bool {
        guard let pid = state.withLock({ $0.pid }) else { return true }
        return !killIfOver(pid)
    }

    /// Kills the replica's processes when their resident memory is over the limit; true if it did.
    private func killIfOver(_ pid: Int32) -> Bool {
        let members = ProcessGroupMemory.members(ofSession: pid)
        guard !members.isEmpty, ProcessGroupMemory.residentBytes(of: members) > bytes else { return false }
        state.withLock { $0.killed = true }
        kill(-pid, SIGKILL)
        for member in members { kill(member, SIGKILL) }
        return true
    }

    func release() async {
        state.withLock { $0.task?.cancel() }
    }
}

/// The processes of a replica and their memory, from `/proc`.
enum ProcessGroupMemory {
    /// Live processes whose session or process group is `leader` (the replica's main process
    /// starts a new session).
    static func members(ofSession leader: Int32) -> [Int32] {
        var result: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let text = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let stat = ProcStat(text), stat.state != "Z", stat.session == leader || stat.processGroup == leader
            else { continue }
            result.append(pid)
        }
        return result
    }

    /// The summed RSS of `pids`, in bytes (processes that are gone count 0).
    static func residentBytes(of pids: [Int32]) -> Int64 {
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        var total: Int64 = 0
        for pid in pids {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let stat = ProcStat(text)
            else { continue }
            total += stat.residentPages * pageSize
        }
        return total
    }
}

/// The fields of `/proc/<pid>/stat` the watchdog needs (proc(5)).
struct ProcStat: Equatable {
    /// Field 3: `R`, `S`, `Z`, …
    var state: Character
    /// Field 5: process group id.
    var processGroup: Int32
    /// Field 6: session id.
    var session: Int32
    /// Field 24: resident set size, in pages.
    var residentPages: Int64

    /// Parses a stat line; the command name (field 2) may hold spaces and parentheses, so fields
    /// are counted from the last `)`.
    init?(_ text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let state = fields[0].first, let group = Int32(fields[2]),
            let session = Int32(fields[3]), let rss = Int64(fields[21])
        else { return nil }
        self.state = state
        self.processGroup = group
        self.session = session
        self.residentPages = rss
    }
}
