import Foundation
import PackagePlugin

/// Generates the Swift source that embeds the Python serving runtime (`python/tern_runtime`)
/// into the target it is applied to (`TernRuntimeBundle`), at build time: no generated file is
/// checked in and no hand step is needed after a Python edit.
///
/// Every `.py` file of the runtime is an input of the build command, so SwiftPM re-runs the
/// generator (`TernRuntimeEmbedder`) when one changes. SwiftPM reuses this plugin's file list
/// until the package is planned again, so after adding or removing a runtime file an
/// incremental build needs `touch Package.swift` (a clean build, as CI's, always sees it;
/// `EmbeddedRuntimeTests` fails on a stale bundle and says so).
@main
struct EmbedRuntimePlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let runtime = context.package.directoryURL.appending(components: "python", "tern_runtime")
        let output = context.pluginWorkDirectoryURL.appending(component: "EmbeddedRuntimeFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding the Python runtime from python/tern_runtime",
                executable: try context.tool(named: "TernRuntimeEmbedder").url,
                arguments: [runtime.path, output.path],
                inputFiles: Self.pythonFiles(in: runtime),
                outputFiles: [output])
        ]
    }

    /// The `.py` files under `folder`, outside `__pycache__`, sorted.
    static func pythonFiles(in folder: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        var files: [URL] = []
        for case let url as URL in walker where url.pathExtension == "py" && !url.pathComponents.contains("__pycache__") {
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }
}
