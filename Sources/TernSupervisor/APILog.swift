import Foundation
import TernCore

/// Appends timestamped lines to one API's log file (`TERN_HOME/logs/<api>.log`) and wakes the
/// readers that follow it.
///
/// Line format (``LogLine/rendered``): `2026-11-30T04:33:12.123Z iris-3f9a1c | <text>`; lines
/// the platform writes (exits, restarts) use the source `tern`.
actor APILog {
    /// The file's path.
    let path: String
    private let handle: FileHandle?
    /// One signal stream per following reader (``watch()``), by id.
    private var watchers: [Int: AsyncStream<Void>.Continuation] = [:]
    private var nextWatcher = 0
    private var closed = false

    /// Opens (creating if needed) the log file for appending.
    init(path: String) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        handle = FileHandle(forWritingAtPath: path)
        _ = try? handle?.seekToEnd()
    }

    /// Appends lines from `source` (a replica id or `tern`), each stamped with the current time,
    /// in one write; then signals every watcher.
    func append(_ lines: [String], source: String) {
        guard let handle, !lines.isEmpty else { return }
        let now = Date()
        var text = ""
        for line in lines {
            text += LogLine(timestamp: now, source: source, text: line).rendered + "\n"
        }
        try? handle.write(contentsOf: Data(text.utf8))
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
