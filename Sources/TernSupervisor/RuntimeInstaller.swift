import Foundation

/// One embedded file: its path relative to the `PYTHONPATH` folder and its base64 contents,
/// split in chunks to keep the generated source readable.
struct EmbeddedFile: Sendable {
    var path: String
    var chunks: [String]
}

/// Unpacks the embedded Python runtime into `TERN_HOME/runtime/<digest>/`.
public enum RuntimeInstaller {
    /// Writes the runtime's files under `home/runtime/<digest>` unless already there and returns
    /// that folder (to put on `PYTHONPATH`).
    /// - Throws: file-system errors.
    public static func install(home: String) throws -> String {
        let folder = home + "/runtime/" + EmbeddedRuntime.digest
        let marker = folder + "/.complete"
        if FileManager.default.fileExists(atPath: marker) { return folder }
        let staging = folder + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        for file in EmbeddedRuntime.files {
            guard let data = Data(base64Encoded: file.chunks.joined()) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
            }
            let url = URL(fileURLWithPath: staging + "/" + file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        FileManager.default.createFile(atPath: staging + "/.complete", contents: nil)
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: staging, toPath: folder)
        return folder
    }
}
