import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TernCore

/// Appends timestamped lines to one API's log file (`TERN_HOME/logs/<api>.log`) and wakes the
/// readers that follow it.
///
/// Line format (``LogLine/rendered``): `2026-11-30T04:33:12.123Z iris-3f9a1c | <text>`; lines
/// the platform writes (exits, restarts) use the source `tern`.
///
/// Bounded: when a write would take the file past `maxBytes`, the file is first renamed to
/// `<api>.log.1` (replacing an older one) and a new `<api>.log` is started, so one API's logs
/// take at most about 2 × `maxBytes` on disk however much its replicas print (a replica flooding
/// stdout cannot fill `TERN_HOME`). ``APILogReader`` follows across a rotation.
actor APILog {

    /// The file's path.
    let path: String
    /// The cap of the file in bytes; 0 or less means no cap.
    let maxBytes: Int64
    private var handle: FileHandle?
    /// Bytes in the current file.
    private var size: Int64 = 0
    /// One signal stream per following reader (``watch()``), by id.
    private var watchers: [Int: AsyncStream<Void>.Continuation] = [:]
    private var nextWatcher = 0
    private var closed = false

    /// The path of the rotated (previous) file of the log at `path`.
    static func rotatedPath(of path: String) -> String { path + ".1" }

    /// Opens (creating if needed) the log file for appending.
    /// - Parameter maxBytes: the cap of the file (see the type's doc); 0 or less: no cap.
    init(path: String, maxBytes: Int64 = LocalBackendConfiguration.defaultMaxLogBytes) {
        self.path = path
        self.maxBytes = maxBytes
        (handle, size) = Self.open(path)
    }

    /// Opens `path` for appending (creating it); returns the handle and the file's size.
    private static func open(_ path: String) -> (FileHandle?, Int64) {
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: path)
        let size = (try? handle?.seekToEnd()).flatMap { $0 }.map { Int64($0) } ?? 0
        return (handle, size)
    }

    /// Renames the file to ``rotatedPath(of:)`` (replacing it) and starts a new one.
    private func rotate() {
        try? handle?.close()
        if rename(path, Self.rotatedPath(of: path)) != 0 {
            // Could not rename (e.g. the folder is read-only): start over in the same file.
            truncate(path, 0)
        }
        (handle, size) = Self.open(path)
    }

    /// Appends lines from `source` (a replica id or `tern`), each stamped with the current time,
    /// in one write; then signals every watcher.
    func append(_ lines: [String], source: String) {
        guard handle != nil, !lines.isEmpty else { return }
        let now = Date()
        var text = ""
        for line in lines {
            text += LogLine(timestamp: now, source: source, text: line).rendered + "\n"
        }
        let data = Data(text.utf8)
        if maxBytes > 0, size > 0, size + Int64(data.count) > maxBytes {
            rotate()
        }
        // A write that fails (a full disk) is dropped: serving must not depend on the log.
        try? handle?.write(contentsOf: data)
        size += Int64(data.count)
        for watcher in watchers.values { watcher.yield() }
    }

    /// A stream that yields (at most one pending signal) after each ``append(_:source:)`` and
    /// finishes at ``close()``; already finished when the log is closed. A reader reads the file
    /// after each signal, so subscribing before the first read loses no line.
    func watch() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        guard !closed else {
            continuation.finish()
            return stream
        }
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unwatch(id) }
        }
        return stream
    }

    /// Ends every watch (the API was removed, or the backend shuts down): followers read what is
    /// left and stop. Appending still works.
    func close() {
        closed = true
        let ending = watchers.values
        watchers.removeAll()
        for watcher in ending { watcher.finish() }
    }

    private func unwatch(_ id: Int) {
        watchers[id] = nil
    }

    deinit {
        try? handle?.close()
    }
}
