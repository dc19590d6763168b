import Foundation

/// Appends timestamped lines to one API's log file (`TERN_HOME/logs/<api>.log`).
///
/// Line format: `2026-11-30T04:33:12.123Z iris-3f9a1c | <text>`; lines the platform writes
/// (exits, restarts) use the source `tern`.
actor APILog {
    /// The file's path.
    let path: String
    private let handle: FileHandle?
    private let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    /// Opens (creating if needed) the log file for appending.
    init(path: String) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        handle = FileHandle(forWritingAtPath: path)
        _ = try? handle?.seekToEnd()
    }

    /// Appends lines from `source` (a replica id or `tern`), each stamped with the current time.
    func append(_ lines: [String], source: String) {
        guard let handle, !lines.isEmpty else { return }
        let stamp = formatter.string(from: Date())
        var text = ""
        for line in lines {
            text += stamp + " " + source + " | " + line + "\n"
        }
        try? handle.write(contentsOf: Data(text.utf8))
    }

    deinit {
        try? handle?.close()
    }
}
