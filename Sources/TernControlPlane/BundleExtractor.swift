import Foundation
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Limits applied to uploaded project bundles.
public struct BundleLimits: Sendable {
    /// Largest upload (the zip itself), in bytes. Default 256 MiB.
    public var maxUploadBytes: Int
    /// Largest total of uncompressed file sizes, in bytes. Default 1 GiB.
    public var maxExtractedBytes: UInt64
    /// Most entries (files and folders) in one bundle. Default 20,000.
    public var maxEntries: Int
    /// Largest ratio of uncompressed bytes to the zip's size, checked once the files add up
    /// to more than ``compressionRatioFloorBytes`` (small projects of repetitive text may
    /// compress better). Default 100; deflate's own limit is about 1,032.
    public var maxCompressionRatio: UInt64
    /// Uncompressed total under which the ratio is not checked, in bytes. Default 16 MiB.
    public var compressionRatioFloorBytes: UInt64
    /// Longest entry path in bytes (UTF-8). Default 1,024: the path is written under
    /// `TERN_HOME/bundles/<digest>.tmp-<uuid>/`, and Linux's `PATH_MAX` (4,096) must hold both.
    public var maxPathBytes: Int
    /// Longest part of a path (between slashes) in bytes. Default 255, Linux's `NAME_MAX`.
    public var maxNameBytes: Int

    /// Creates limits; defaults as documented on each property.
    public init(
        maxUploadBytes: Int = 256 << 20, maxExtractedBytes: UInt64 = 1 << 30, maxEntries: Int = 20_000,
        maxCompressionRatio: UInt64 = 100, compressionRatioFloorBytes: UInt64 = 16 << 20,
        maxPathBytes: Int = 1024, maxNameBytes: Int = 255
    ) {
        self.maxUploadBytes = maxUploadBytes
        self.maxExtractedBytes = maxExtractedBytes
        self.maxEntries = maxEntries
        self.maxCompressionRatio = maxCompressionRatio
        self.compressionRatioFloorBytes = compressionRatioFloorBytes
        self.maxPathBytes = maxPathBytes
        self.maxNameBytes = maxNameBytes
    }
}

/// Why a bundle was refused.
public struct BundleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the entry (or the limit).
    public var description: String
}

/// Extracts uploaded project bundles (zip archives) safely into `TERN_HOME/bundles/<digest>/`.
///
/// Refused before anything is written (``validate(_:)``): more entries or more uncompressed
/// bytes than ``BundleLimits`` allow, a compression ratio over the limit (a zip bomb), entries
/// that share data (overlapping entries), encrypted entries; and entries whose path is
/// absolute, holds `.`, `..`, an empty part, a backslash or a control character (NUL…), is
/// longer than the limits, or collides with another's (the same path twice, a file where
/// another entry needs a folder, or paths that differ only in case or Unicode normalisation,
/// which would extract differently on macOS); symbolic links, FIFOs, devices and sockets.
/// While extracting, a file whose content is longer than its declared size is stopped at that
/// size, and one whose size or CRC-32 does not match is refused; the staging folder is then
/// removed. Only regular files and folders are created: files get mode 0755 when the entry has
/// any execute bit, else 0644 (no setuid, setgid, sticky or group/other write bits), folders
/// 0755.
///
/// The digest identifies the bundle's content (FNV-1a 64 over each file's path, size and
/// CRC-32, sorted by path): two uploads of the same files share one folder, and a deploy whose
/// files did not change is recognised as unchanged.
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

    /// What ``validate(_:)`` found: the readable archive and its file entries, with the
    /// folders to create (explicit and implied by file paths, parents first).
    struct Plan {
        var archive: Archive
        var files: [Entry]
        var directories: [String]
    }

    /// Validates and extracts `zipData`; returns the digest and the folder it was extracted to.
    ///
    /// The files go into a staging folder (`<digest>.tmp-<uuid>`) renamed to `<digest>` once all
    /// are written: `rename(2)` is atomic, so a crash leaves the complete folder or none (a staging
    /// folder, which ``retireBundles(keeping:)`` deletes). `afterFirstFile` runs once the first
    /// file is in the staging folder (the test-only crash hook's `extracting` step).
    /// - Throws: ``BundleError`` for a refused bundle; file-system errors.
    public func extract(
        _ zipData: Data, afterFirstFile: () -> Void = {}
    ) throws -> (digest: String, directory: String) {
        var written: UInt64 = 0
        return try extract(zipData, afterFirstFile: afterFirstFile, written: &written)
    }

    /// ``extract(_:afterFirstFile:)``, adding to `written` each byte written to a file, also
    /// when it throws (tests measure how much a refused zip bomb wrote).
    func extract(
        _ zipData: Data, afterFirstFile: () -> Void = {}, written: inout UInt64
    ) throws -> (digest: String, directory: String) {
        let plan = try validate(zipData)
        let digest = Self.digest(of: plan.files)
        let target = bundlesDirectory + "/" + digest
        if FileManager.default.fileExists(atPath: target) { return (digest, target) }

        let staging = target + ".tmp-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: bundlesDirectory, withIntermediateDirectories: true)
        do {
            try Self.makeDirectory(staging)
            for directory in plan.directories { try Self.makeDirectory(staging + "/" + directory) }
            var wroteFile = false
            for entry in plan.files {
                try Self.extractFile(entry, from: plan.archive, to: staging + "/" + entry.path, written: &written)
                if !wroteFile {
                    wroteFile = true
                    afterFirstFile()
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

    /// Every check that needs no writing (see the type's documentation), in this order: upload
    /// size, the end record and its declared entry count, each entry's headers and where its
    /// data lies (``ZipDirectory/records(_:)``, overlaps included), then each entry as
    /// ZIPFoundation reads it (sizes agreeing, path, type, collisions, the uncompressed total),
    /// encryption, the compression ratio.
    /// - Throws: ``BundleError`` naming the entry and the limit.
    func validate(_ zipData: Data) throws -> Plan {
        guard zipData.count <= limits.maxUploadBytes else {
            throw BundleError(description: "the bundle is \(zipData.count) bytes; the limit is \(limits.maxUploadBytes) bytes")
        }
        let directory = try ZipDirectory(zipData)
        guard directory.declaredCount <= UInt64(limits.maxEntries) else {
            throw BundleError(
                description: "the bundle has \(directory.declaredCount) entries; the limit is \(limits.maxEntries) entries")
        }
        let records = try directory.records(Int(directory.declaredCount))
        let archive: Archive
        do {
            archive = try Archive(data: zipData, accessMode: .read)
        } catch {
            throw BundleError(description: "the bundle is not a readable zip archive (\(error))")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(records.count)
        var paths = PathTable()
        var total: UInt64 = 0
        let iterator = archive.makeIterator()
        for record in records {
            guard let entry = iterator.next() else { break }
            entries.append(entry)
            let path = entry.path
            // ZIPFoundation prefers a data descriptor's sizes: they must be the ones checked.
            guard entry.compressedSize == record.compressedSize, entry.uncompressedSize == record.uncompressedSize else {
                throw BundleError(
                    description: "bundle entry \(Self.display(path)) has sizes in its data descriptor that differ from the central directory's (damaged archive)")
            }
            try checkPath(path)
            let type = try Self.checkType(of: entry, record: record)
            if type == .file && path.hasSuffix("/") {
                throw BundleError(description: "bundle entry \(Self.display(path)) is a file whose path ends in /")
            }
            try paths.add(path, isDirectory: type == .directory)
            if type == .file {
                let (sum, overflow) = total.addingReportingOverflow(entry.uncompressedSize)
                guard !overflow, sum <= limits.maxExtractedBytes else {
                    throw BundleError(
                        description: "the bundle expands to more than \(limits.maxExtractedBytes) bytes (at entry \(Self.display(path)), which declares \(entry.uncompressedSize) bytes)")
                }
                total = sum
            }
        }
        // ZIPFoundation stops reading at an entry it cannot parse (damaged, or encrypted).
        if entries.count < records.count, records[entries.count].isEncrypted {
            throw BundleError(
                description: "bundle entry \(Self.display(records[entries.count].name)) is encrypted; encrypted bundles are not supported")
        }
        guard entries.count == records.count else {
            throw BundleError(
                description: "the bundle is not a readable zip archive: entry \(entries.count + 1) of the \(records.count) it declares is damaged or encrypted")
        }
        if total > limits.compressionRatioFloorBytes,
            Double(total) > Double(limits.maxCompressionRatio) * Double(zipData.count)
        {
            throw BundleError(
                description: "the bundle's \(zipData.count) bytes expand to \(total) bytes, more than \(limits.maxCompressionRatio) times its size (a zip bomb?); the limit applies above \(limits.compressionRatioFloorBytes) bytes")
        }
        let files = entries.filter { $0.type == .file }
        return Plan(archive: archive, files: files, directories: paths.directories)
    }

    /// The entry's type; refuses links and special files by the `st_mode` a Unix-made entry
    /// carries (ZIPFoundation reads FIFOs, devices and sockets as regular files).
    private static func checkType(of entry: Entry, record: ZipDirectory.Record) throws -> Entry.EntryType {
        let name = display(entry.path)
        let kind: String? =
            switch record.unixMode.map({ $0 & 0o170000 }) ?? 0 {
            case 0, 0o100000, 0o040000: nil
            case 0o120000: "a symbolic link"
            case 0o010000: "a FIFO (named pipe)"
            case 0o020000: "a character device"
            case 0o060000: "a block device"
            case 0o140000: "a socket"
            case let other: "of unknown file type 0o\(String(other, radix: 8))"
            }
        if let kind {
            throw BundleError(description: "bundle entry \(name) is \(kind); only regular files and folders are allowed")
        }
        if entry.type == .symlink {  // not Unix-made: ZIPFoundation does not say links then, but be sure
            throw BundleError(description: "bundle entry \(name) is a symbolic link; only regular files and folders are allowed")
        }
        return entry.type
    }

    /// Writes one file entry (the folder exists): created with `O_CREAT | O_EXCL | O_NOFOLLOW`
    /// (an existing file or link is never written through), bytes refused past the size the
    /// archive declares (the limits were checked on those), then size and CRC-32 checked.
    private static func extractFile(_ entry: Entry, from archive: Archive, to path: String, written: inout UInt64) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var size: UInt64 = 0
        var count: UInt64 = 0
        defer { written += count }
        var writeError: (any Error)?
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry) { chunk in
                size += UInt64(chunk.count)
                guard size <= entry.uncompressedSize else {
                    let message = "bundle entry \(display(entry.path)) expands past the \(entry.uncompressedSize) bytes it declares"
                    throw BundleError(description: message)
                }
                do {
                    try handle.write(contentsOf: chunk)
                } catch {
                    writeError = error
                    throw error
                }
                count += UInt64(chunk.count)
            }
        } catch let error as BundleError {
            throw error
        } catch {
            // A write error (a full disk) is the server's; any other is ZIPFoundation's reading.
            if let writeError { throw writeError }
            throw BundleError(description: "bundle entry \(display(entry.path)) is corrupt: its data cannot be read (\(error))")
        }
        guard size == entry.uncompressedSize, checksum == entry.checksum else {
            throw BundleError(description: "bundle entry \(display(entry.path)) is corrupt: its size or CRC-32 does not match")
        }
        let permissions = (entry.fileAttributes[.posixPermissions] as? NSNumber)?.uint16Value ?? 0o644
        guard fchmod(descriptor, permissions & 0o111 != 0 ? 0o755 : 0o644) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        try handle.close()
        if let date = entry.fileAttributes[.modificationDate] as? Date {
            try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
        }
    }

    /// Creates folder `path` with mode 0755 (whatever the umask), its parent existing.
    private static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST, chmod(path, 0o755) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
    }

    /// Refuses absolute paths, `..`, `.`, empty components, backslashes, control characters
    /// and paths or parts longer than ``BundleLimits``.
    func checkPath(_ path: String) throws {
        try Self.checkPath(path)
        let name = Self.display(path)
        if path.utf8.count > limits.maxPathBytes {
            throw BundleError(
                description: "bundle entry \(name.prefix(80))… has a path of \(path.utf8.count) bytes; the limit is \(limits.maxPathBytes) bytes")
        }
        if let long = path.split(separator: "/").first(where: { $0.utf8.count > limits.maxNameBytes }) {
            throw BundleError(
                description: "bundle entry \(name.prefix(80))… has a name of \(long.utf8.count) bytes; the limit is \(limits.maxNameBytes) bytes per name")
        }
    }

    /// Refuses absolute paths, `..`, `.`, empty components, backslashes and control characters
    /// (NUL, newline, …: a NUL would cut the path short in the file system).
    static func checkPath(_ path: String) throws {
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw BundleError(description: "bundle entry \(display(path)) has a control character in its path")
        }
        if path.hasPrefix("/") || path.contains("\\") {
            throw BundleError(description: "bundle entry \(path) has an absolute or Windows path")
        }
        if path.isEmpty {
            throw BundleError(description: "a bundle entry has an empty path")
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

    /// `path` for messages: control characters as `\x00`-style escapes.
    static func display(_ path: String) -> String {
        var result = ""
        for scalar in path.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
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

/// The paths of a bundle's entries, keyed case-insensitively (Swift strings compare by
/// canonical equivalence, so NFC and NFD spellings are one key): refuses a path seen twice
/// (folders excepted), a file where a folder is needed or the reverse, and two spellings of one
/// path that differ only in case or normalisation. Collects the folders to create.
struct PathTable {
    private var seen: [String: (path: String, isDirectory: Bool)] = [:]
    private var folders: [String] = []

    /// The folders, explicit and implied, parents before children.
    var directories: [String] { folders }

    /// Adds entry `path` (a trailing `/` marks a folder) and its parent folders.
    /// - Throws: ``BundleError`` naming both entries of a collision.
    mutating func add(_ entryPath: String, isDirectory: Bool) throws {
        let path = entryPath.hasSuffix("/") ? String(entryPath.dropLast()) : entryPath
        var parent = ""
        for part in path.split(separator: "/").dropLast() {
            parent += parent.isEmpty ? String(part) : "/" + part
            try insert(parent, isDirectory: true, entry: entryPath)
        }
        try insert(path, isDirectory: isDirectory, entry: entryPath)
    }

    private mutating func insert(_ path: String, isDirectory: Bool, entry: String) throws {
        let key = path.lowercased()
        guard let existing = seen[key] else {
            seen[key] = (path, isDirectory)
            if isDirectory { folders.append(path) }
            return
        }
        let name = BundleExtractor.display(entry)
        if !existing.path.utf8.elementsEqual(path.utf8) {
            throw BundleError(
                description: "bundle entry \(name) and \(BundleExtractor.display(existing.path)) differ only in case or Unicode normalisation; rename one (they would be one file on macOS)")
        }
        if isDirectory && existing.isDirectory { return }
        if !isDirectory && !existing.isDirectory {
            throw BundleError(description: "bundle entry \(name) appears more than once")
        }
        throw BundleError(description: "bundle entry \(name) makes \(BundleExtractor.display(path)) both a file and a folder")
    }
}
