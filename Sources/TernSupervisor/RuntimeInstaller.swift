import Foundation
import TernRuntimeBundle

/// Unpacks the embedded Python runtime (``EmbeddedRuntime`` of TernRuntimeBundle) into `TERN_HOME/runtime/<digest>/`.
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
            guard let data = file.contents else {
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
