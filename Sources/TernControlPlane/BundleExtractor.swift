import Foundation
import ZIPFoundation

/// Limits applied to uploaded project bundles.
public struct BundleLimits: Sendable {
    /// Largest upload (the zip itself), in bytes. Default 256 MiB.
    public var maxUploadBytes: Int
    /// Largest total of uncompressed file sizes, in bytes. Default 1 GiB.
    public var maxExtractedBytes: UInt64
    /// Most entries in one bundle. Default 20,000.
    public var maxEntries: Int

    /// Creates limits; defaults as documented on each property.
    public init(maxUploadBytes: Int = 256 << 20, maxExtractedBytes: UInt64 = 1 << 30, maxEntries: Int = 20_000) {
        self.maxUploadBytes = maxUploadBytes
        self.maxExtractedBytes = maxExtractedBytes
        self.maxEntries = maxEntries
    }
}

/// Why a bundle was refused.
public struct BundleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the entry.
    public var description: String
}

/// Extracts uploaded project bundles (zip archives) safely into `TERN_HOME/bundles/<digest>/`.
///
/// Refused before anything is written: absolute paths, `..` components, symbolic links, more
/// entries or more uncompressed bytes than ``BundleLimits`` allow. A file whose content does not
/// match its declared size and CRC-32 is refused while extracting (the partial folder is
/// removed). The digest identifies the bundle's content (FNV-1a 64 over each file's path, size
/// and CRC-32, sorted by path): two uploads of the same files share one folder, and a deploy
/// whose files did not change is recognised as unchanged.
public struct BundleExtractor: Sendable {
    /// Folder holding one sub-folder per bundle digest.
    public var bundlesDirectory: String
    /// Limits.
    public var limits: BundleLimits

    /// Creates an extractor.
    public init(bundlesDirectory: String, limits: BundleLimits = BundleLimits()) {
        self.bundlesDirectory = bundlesDirectory
        self.limits = limits
    }

    /// Validates and extracts `zipData`; returns the digest and the folder it was extracted to.
    ///
    /// The files go into a staging folder (`<digest>.tmp-<uuid>`) renamed to `<digest>` once all
    /// are written: `rename(2)` is atomic, so a crash leaves the complete folder or none (a staging
    /// folder, which ``removeBundles(keeping:)`` deletes). `afterFirstFile` runs once the first
    /// file is in the staging folder (the test-only crash hook's `extracting` step).
    /// - Throws: ``BundleError`` for a refused bundle; file-system errors.
    public func extract(
        _ zipData: Data, afterFirstFile: () -> Void = {}
    ) throws -> (digest: String, directory: String) {
        guard zipData.count <= limits.maxUploadBytes else {
            throw BundleError(description: "the bundle is \(zipData.count) bytes; the limit is \(limits.maxUploadBytes) bytes")
        }
        let archive: Archive
        do {
            archive = try Archive(data: zipData, accessMode: .read)
        } catch {
            throw BundleError(description: "the bundle is not a readable zip archive (\(error))")
        }
        var entries: [Entry] = []
        var total: UInt64 = 0
        for entry in archive {
            entries.append(entry)
            guard entries.count <= limits.maxEntries else {
                throw BundleError(description: "the bundle has more than \(limits.maxEntries) entries")
            }
            try Self.checkPath(entry.path)
            switch entry.type {
            case .symlink:
                throw BundleError(description: "bundle entry \(entry.path) is a symbolic link; links are not allowed")
            case .file:
                total += entry.uncompressedSize
                guard total <= limits.maxExtractedBytes else {
                    throw BundleError(description: "the bundle expands to more than \(limits.maxExtractedBytes) bytes")
                }
            case .directory:
                break
            }
        }
        let digest = Self.digest(of: entries)
        let target = bundlesDirectory + "/" + digest
        if FileManager.default.fileExists(atPath: target) { return (digest, target) }

        let staging = target + ".tmp-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            let root = URL(fileURLWithPath: staging, isDirectory: true)
            var wroteFile = false
            for entry in entries {
                let destination = root.appendingPathComponent(entry.path)
                if entry.type == .directory {
                    try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
                } else {
                    try Self.extractFile(entry, from: archive, to: destination)
                    if !wroteFile {
                        wroteFile = true
                        afterFirstFile()
                    }
                }
            }
            try FileManager.default.moveItem(atPath: staging, toPath: target)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            if FileManager.default.fileExists(atPath: target) { return (digest, target) }  // a concurrent upload won
            throw error
        }
        return (digest, target)
    }

    /// Writes one file entry, refusing bytes that differ from the size and CRC-32 the archive
    /// declares: the limits and the digest are computed from those, so a zip that understates a
    /// file's size cannot expand past ``BundleLimits/maxExtractedBytes``.
    private static func extractFile(_ entry: Entry, from archive: Archive, to destination: URL) throws {
        let path = destination.path
        guard !FileManager.default.fileExists(atPath: path) else {
            throw BundleError(description: "bundle entry \(entry.path) appears more than once")
        }
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        let handle = try FileHandle(forWritingTo: destination)
        defer { try? handle.close() }
        var size: UInt64 = 0
        let checksum = try archive.extract(entry) { chunk in
            size += UInt64(chunk.count)
            guard size <= entry.uncompressedSize else {
                let message = "bundle entry \(entry.path) expands past the \(entry.uncompressedSize) bytes it declares"
                throw BundleError(description: message)
            }
            try handle.write(contentsOf: chunk)
        }
        guard size == entry.uncompressedSize, checksum == entry.checksum else {
            throw BundleError(description: "bundle entry \(entry.path) is corrupt: its size or CRC-32 does not match")
        }
        try FileManager.default.setAttributes(entry.fileAttributes, ofItemAtPath: path)
    }

    /// Refuses absolute paths, `..`, empty components and backslashes.
    static func checkPath(_ path: String) throws {
        if path.hasPrefix("/") || path.contains("\\") {
            throw BundleError(description: "bundle entry \(path) has an absolute or Windows path")
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for (index, component) in components.enumerated() {
            if component == ".." || component == "." {
                throw BundleError(description: "bundle entry \(path) contains \(component); paths must stay inside the project")
            }
            if component.isEmpty && index != components.count - 1 {
                throw BundleError(description: "bundle entry \(path) has an empty path component")
            }
        }
    }

    static func digest(of entries: [Entry]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
        }
        for entry in entries.filter({ $0.type == .file }).sorted(by: { $0.path < $1.path }) {
            mix("\(entry.path)\u{0}\(entry.uncompressedSize)\u{0}\(entry.checksum)\n")
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
