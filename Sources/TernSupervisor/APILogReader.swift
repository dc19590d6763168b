import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TernCore

/// Reads one API's log file as ``LogLine``s, on demand: first the last `tail` lines, then, when
/// following, the lines appended after each signal of ``APILog/watch()`` until that stream ends.
///
/// Pull-based: a line is read from the file only when the consumer asks for the next one, so a
/// slow client holds at most one read's lines in memory. Used through ``stream()``.
final class APILogReader: @unchecked Sendable {
    // @unchecked: `AsyncThrowingStream(unfolding:)` asks for one element at a time, so the
    // mutable state below is never touched by two tasks at once.
    private let path: String
    private let tail: Int?
    private let replica: String?
    private var wake: AsyncStream<Void>.AsyncIterator?
    private var offset: UInt64 = 0
    /// The inode of the file `offset` is in (nil before the first read): a new one means
    /// ``APILog`` rotated the file, and the reader finishes the old one (`<path>.1`) first.
    private var inode: UInt64?
    /// Bytes after the last newline read (a line still being written).
    private var partial: [UInt8] = []
    private var pending: [LogLine] = []
    private var next = 0
    private var started = false
    private var finished = false

    /// A reader of the file at `path`: the last `tail` lines (all when nil or negative, none when
    /// 0) of source `replica` (every source when nil), then, with `wake`, new lines after each of
    /// its signals until it finishes.
    init(path: String, tail: Int?, replica: String?, wake: AsyncStream<Void>?) {
        self.path = path
        self.tail = tail
        self.replica = replica
        self.wake = wake?.makeAsyncIterator()
    }

    /// The lines as an async sequence.
    func stream() -> AsyncThrowingStream<LogLine, any Error> {
        AsyncThrowingStream(unfolding: { try await self.nextLine() })
    }

    /// The next line, or nil at the end (of the file, or of the follow).
    func nextLine() async throws -> LogLine? {
        while true {
            if next < pending.count {
                defer { next += 1 }
                return pending[next]
            }
            pending.removeAll(keepingCapacity: true)
            next = 0
            if finished { return nil }
            if !started {
                started = true
                pending = Self.last(tail, of: try readNewLines(flushingPartial: wake == nil))
                if wake == nil { finished = true }
                continue
            }
            pending = try readNewLines(flushingPartial: false)
            if !pending.isEmpty { continue }
            var iterator = wake
            let signalled = await iterator?.next() != nil
            wake = iterator
            if !signalled {
                // Closed (or the consumer was cancelled): what was written up to now, then the end.
                pending = try readNewLines(flushingPartial: true)
                finished = true
            }
        }
    }

    /// Complete lines from `offset` to the end of the file, filtered by source; with
    /// `flushingPartial`, a last line without a newline too.
    private func readNewLines(flushingPartial: Bool) throws -> [LogLine] {
        var bytes = partial
        let current = Self.inode(of: path)
        if let inode, let current, current != inode {
            let rotated = APILog.rotatedPath(of: path)
            if Self.inode(of: rotated) == inode, let rest = try Self.read(rotated, from: offset) {
                bytes += rest
            }
            offset = 0
        }
        inode = current
        if let data = try Self.read(path, from: offset) {
            offset += UInt64(data.count)
            bytes += data
        }
        let split = Self.lines(in: bytes, flushingPartial: flushingPartial)
        partial = split.rest
        // A replica id selects its lines; a job id its workers' (`<job id>-<n>`) and Tern's lines
        // about them (`replica <job id>-0 exited …`).
        guard let replica else { return split.lines }
        let workers = replica + "-"
        return split.lines.filter {
            $0.source == replica || $0.source.hasPrefix(workers) || ($0.source == LogLine.ternSource && $0.text.contains(workers))
        }
    }

    /// The inode number of the file at `path`, or nil when there is none.
    static func inode(of path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// The bytes of the file at `path` from `offset` to its end; nil when it cannot be opened.
    private static func read(_ path: String, from offset: UInt64) throws -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        return try handle.readToEnd().map { Array($0) } ?? []
    }

    /// The lines of `bytes` (split at `\n`) and the bytes after the last newline; with
    /// `flushingPartial`, those bytes are a last line instead (`rest` is then empty).
    static func lines(in bytes: [UInt8], flushingPartial: Bool) -> (lines: [LogLine], rest: [UInt8]) {
        var lines: [LogLine] = []
        var start = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(LogLine(parsing: String(decoding: bytes[start..<newline], as: UTF8.self)))
            start = newline + 1
        }
        guard start < bytes.count else { return (lines, []) }
        guard flushingPartial else { return (lines, Array(bytes[start...])) }
        lines.append(LogLine(parsing: String(decoding: bytes[start...], as: UTF8.self)))
        return (lines, [])
    }

    /// The last `tail` of `lines`: all when `tail` is nil or negative, none when 0.
    static func last(_ tail: Int?, of lines: [LogLine]) -> [LogLine] {
        guard let tail, tail >= 0 else { return lines }
        return Array(lines.suffix(tail))
    }
}
