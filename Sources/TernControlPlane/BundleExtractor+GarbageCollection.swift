import Foundation
import TernCore

/// Garbage collection of the bundles folder (`TERN_HOME/bundles`), whose entries are bundle
/// folders (`<digest>`, 16 hex digits), staging folders of extractions (`<digest>.tmp-<uuid>`)
/// and folders being deleted (`.trash-<uuid>`). Anything else is left alone.
extension BundleExtractor {
    /// Moves out of the way every bundle folder whose digest is not in `keeping`, and every
    /// staging folder: each is renamed to `.trash-<uuid>` (one `rename(2)`), so an extraction
    /// that starts after this returns never finds, and never reuses, a folder being deleted.
    /// Delete them with ``emptyTrash()``.
    ///
    /// - Important: call only while no extraction runs: a staging folder is taken for the
    ///   leftover of an extraction that crashed.
    /// - Returns: the names moved (digests, and staging folder names), sorted.
    public func retireBundles(keeping: Set<String>) -> [String] {
        let manager = FileManager.default
        let trash = TrashFolder(directory: bundlesDirectory)
        var retired: [String] = []
        for name in (try? manager.contentsOfDirectory(atPath: bundlesDirectory)) ?? [] {
            let isBundle = Self.isDigest(name)
            let isStaging = name.count > 16 && Self.isDigest(String(name.prefix(16))) && name.dropFirst(16).hasPrefix(".tmp-")
            guard (isBundle && !keeping.contains(name)) || isStaging else { continue }
            if trash.retire(name) { retired.append(name) }
        }
        return retired.sorted()
    }

    /// Deletes the `.trash-*` folders that ``retireBundles(keeping:)`` left (blocking, for as long
    /// as the files take: run it off the event loops). Returns how many it deleted.
    @discardableResult
    public func emptyTrash() -> Int { TrashFolder(directory: bundlesDirectory).empty() }

    /// The digest of the bundle folder `path` lies in (`<bundlesDirectory>/<digest>[/…]`), or nil.
    public func digest(containing path: String) -> String? {
        let prefix = bundlesDirectory + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let name = String(path.dropFirst(prefix.count).prefix { $0 != "/" })
        return Self.isDigest(name) ? name : nil
    }

    /// Whether `name` is a bundle digest: 16 lowercase hex digits (``digest(of:)``).
    static func isDigest(_ name: String) -> Bool {
        name.utf8.count == 16 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
