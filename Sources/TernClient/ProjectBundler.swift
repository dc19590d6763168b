import Foundation
import TernCore
import ZIPFoundation

/// Why a project could not be bundled.
public struct BundlingError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var description: String
}

/// Packs a project folder into the zip bundle that `tern deploy` uploads.
///
/// Includes every file under the folder except what `.ternignore` (or `.cortexignore`) excludes
/// (gitignore syntax) and Tern's defaults (dot-files, `__pycache__`, `*.pyc`); the project's
/// `.env` (the replicas' environment) is always included. Symbolic links are followed (except a
/// link back to a folder being walked) so the bundle holds plain files only. Fails when the
/// bundle would exceed `maxBytes`, naming the largest files so the user knows what to exclude.
public struct ProjectBundler: Sendable {
    /// The project folder (the one holding `tern.yaml`).
    public var directory: URL
    /// Largest bundle accepted, in bytes (of file contents before compression). Default 256 MiB.
    public var maxBytes: Int64

    /// Creates a bundler.
    public init(directory: URL, maxBytes: Int64 = 256 << 20) {
        self.directory = directory.standardizedFileURL
        self.maxBytes = maxBytes
    }

    /// The files that go into the bundle: relative paths (sorted) and their sizes in bytes.
    /// - Throws: ``BundlingError`` when the folder cannot be read.
    public func files() throws -> [(path: String, bytes: Int64)] {
        let rules = try ignoreRules()
        var result: [(String, Int64)] = []
        let root = directory.resolvingSymlinksInPath().path
        try walk(directory, relative: "", rules: rules, ancestors: [root], into: &result)
        return result.sorted { $0.0 < $1.0 }
    }

    /// Builds the zip in memory.
    /// - Throws: ``BundlingError`` when the project is too large or unreadable.
    public func makeBundle() throws -> Data {
        let files = try files()
        let total = files.reduce(Int64(0)) { $0 + $1.bytes }
        if total > maxBytes {
            let largest = files.sorted { $0.bytes > $1.bytes }.prefix(3)
                .map { "\($0.path) (\(Self.formatBytes($0.bytes)))" }.joined(separator: ", ")
            throw BundlingError(
                description: "the project is \(Self.formatBytes(total)), over the \(Self.formatBytes(maxBytes)) bundle limit; largest files: \(largest). List files to leave out in .ternignore")
        }
        do {
            let archive = try Archive(accessMode: .create)
            for file in files {
                let url = directory.appendingPathComponent(file.path).resolvingSymlinksInPath()
                try archive.addEntry(with: file.path, fileURL: url, compressionMethod: .deflate)
            }
            guard let data = archive.data else { throw BundlingError(description: "could not build the bundle in memory") }
            return data
        } catch let error as BundlingError {
            throw error
        } catch {
            throw BundlingError(description: "could not bundle \(directory.path): \(error)")
        }
    }

    private func ignoreRules() throws -> IgnoreRules {
        var patterns = IgnoreRules.defaultPatterns
        for name in [".ternignore", ".cortexignore"] {
            if let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) {
                patterns += "\n" + text
                break
            }
        }
        return IgnoreRules(patterns: patterns)
    }

    /// - Parameter ancestors: real paths of the folders being walked, so a link back to one of
    ///   them is not followed forever.
    private func walk(
        _ url: URL, relative: String, rules: IgnoreRules, ancestors: Set<String>, into result: inout [(String, Int64)]
    ) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw BundlingError(description: "cannot read \(url.path): \(error.localizedDescription)")
        }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            let child = url.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            // fileExists follows links: a link to a folder is walked, a dangling link is skipped.
            guard FileManager.default.fileExists(atPath: child.path, isDirectory: &isDirectory) else { continue }
            // The project's `.env` is the one dot-file uploaded: the server reads the replicas'
            // environment from it.
            let isDotEnv = relative.isEmpty && name == ".env" && !isDirectory.boolValue
            if !isDotEnv && rules.isIgnored(path, isDirectory: isDirectory.boolValue) { continue }
            if isDirectory.boolValue {
                let real = child.resolvingSymlinksInPath().path
                if ancestors.contains(real) { continue }
                try walk(child, relative: path, rules: rules, ancestors: ancestors.union([real]), into: &result)
            } else {
                let size = (try? FileManager.default.attributesOfItem(atPath: child.resolvingSymlinksInPath().path)[.size] as? NSNumber)?.int64Value ?? 0
                result.append((path, size))
            }
        }
    }

    /// `1.5 MiB` style sizes for messages.
    public static func formatBytes(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
    }
}
