import Foundation
import PackagePlugin

/// Embeds the control-plane API's OpenAPI document (`docs/openapi.yaml`) into the target it is
/// applied to (`TernControlPlane`), at build time, so that `GET /v1/openapi.json` serves the very
/// document in `docs/` (no copy to keep in step). The generated source holds the file's bytes as
/// `OpenAPIDocument.generatedYAMLBase64`; the document is an input of the build command, so an
/// edit of it rebuilds the target.
@main
struct EmbedOpenAPIPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let document = context.package.directoryURL.appending(components: "docs", "openapi.yaml")
        let output = context.pluginWorkDirectoryURL.appending(component: "EmbeddedOpenAPIDocument.swift")
        return [
            .buildCommand(
                displayName: "Embedding the OpenAPI document docs/openapi.yaml",
                executable: try context.tool(named: "TernDocumentEmbedder").url,
                arguments: [document.path, output.path, "OpenAPIDocument", "generatedYAMLBase64"],
                inputFiles: [document],
                outputFiles: [output])
        ]
    }
}
