// Build-time generator run by the EmbedRuntimePlugin build-tool plugin (Plugins/): writes a Swift
// source holding every `.py` file of the Python runtime, base64-encoded, and their digest.
//
// Usage: TernRuntimeEmbedder RUNTIME_FOLDER OUTPUT_SWIFT_FILE
//   RUNTIME_FOLDER  python/tern_runtime (paths are stored relative to its parent: tern_runtime/…)
//
// The digest is SHA-256 over, for each file in byte order of its relative path, the path's
// UTF-8 bytes, a NUL, the file's bytes and a NUL; its first 16 hex digits name the folder the
// runtime is unpacked into (TERN_HOME/runtime/<digest>). Foundation only, so that it builds
// before any dependency.

import Foundation
import TernDigest

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: TernRuntimeEmbedder RUNTIME_FOLDER OUTPUT_SWIFT_FILE\n".utf8))
    exit(64)
}
let root = URL(fileURLWithPath: arguments[1]).standardizedFileURL
let output = URL(fileURLWithPath: arguments[2])
let parent = root.deletingLastPathComponent().path

var files: [(path: String, data: Data)] = []
if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
    for case let url as URL in walker where url.pathExtension == "py" && !url.pathComponents.contains("__pycache__") {
        let absolute = url.standardizedFileURL.path
        guard absolute.hasPrefix(parent + "/"), let data = FileManager.default.contents(atPath: absolute) else {
            FileHandle.standardError.write(Data("cannot read \(absolute)\n".utf8))
            exit(1)
        }
        files.append((String(absolute.dropFirst(parent.count + 1)), data))
    }
}
files.sort { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
guard !files.isEmpty else {
    FileHandle.standardError.write(Data("no .py files under \(root.path)\n".utf8))
    exit(1)
}

var hashed: [UInt8] = []
for file in files {
    hashed += Array(file.path.utf8) + [0] + Array(file.data) + [0]
}
let digest = SHA256.hex(of: hashed).prefix(16)

var source = """
    // Generated at build time by TernRuntimeEmbedder (Plugins/EmbedRuntimePlugin) from
    // python/tern_runtime. Not checked in.

    extension EmbeddedRuntime {
        static let generatedDigest = "\(digest)"

        static let generatedFiles: [(path: String, base64: String)] = [

    """
for file in files {
    source += "        (\"\(file.path)\", \"\(file.data.base64EncodedString())\"),\n"
}
source += "    ]\n}\n"
do {
    // Rewritten only when it changed, so that an unchanged runtime does not rebuild the target.
    if FileManager.default.contents(atPath: output.path) != Data(source.utf8) {
        try Data(source.utf8).write(to: output, options: .atomic)
    }
} catch {
    FileHandle.standardError.write(Data("cannot write \(output.path): \(error)\n".utf8))
    exit(1)
}
