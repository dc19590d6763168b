// Build-time generator run by the EmbedOpenAPIPlugin build-tool plugin (Plugins/): writes a Swift
// source that holds one file's bytes, base64-encoded, as a static property of a type of the
// target the plugin is applied to.
//
// Usage: TernDocumentEmbedder INPUT_FILE OUTPUT_SWIFT_FILE TYPE PROPERTY
//   writes `extension TYPE { static let PROPERTY = "<base64 of INPUT_FILE>" }`
//
// Foundation only, so that it builds before any dependency.

import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 5 else {
    FileHandle.standardError.write(Data("usage: TernDocumentEmbedder INPUT_FILE OUTPUT_SWIFT_FILE TYPE PROPERTY\n".utf8))
    exit(64)
}
let (input, output, type, property) = (arguments[1], arguments[2], arguments[3], arguments[4])
guard let data = FileManager.default.contents(atPath: input) else {
    FileHandle.standardError.write(Data("cannot read \(input)\n".utf8))
    exit(1)
}
let name = URL(fileURLWithPath: input).lastPathComponent
let source = """
    // Generated at build time by TernDocumentEmbedder (Plugins/EmbedOpenAPIPlugin) from
    // \(name). Not checked in.

    extension \(type) {
        static let \(property) = "\(data.base64EncodedString())"
    }

    """
do {
    // Rewritten only when it changed, so that an unchanged document does not rebuild the target.
    if FileManager.default.contents(atPath: output) != Data(source.utf8) {
        try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    }
} catch {
    FileHandle.standardError.write(Data("cannot write \(output): \(error)\n".utf8))
    exit(1)
}
