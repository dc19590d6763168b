import Foundation
import ZIPFoundation

/// A fresh folder under the system temporary folder, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tern-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Names directly inside `relative` (sorted); [] when it does not exist.
    func contents(of relative: String = "") -> [String] {
        let folder = relative.isEmpty ? url : url.appendingPathComponent(relative)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }
}

/// One entry of a zip built in a test.
struct ZipEntry: Sendable, CustomStringConvertible {
    enum Kind: Sendable { case file, directory, symlink }
    var path: String
    var type: Kind = .file
    var data = Data()
    var permissions: UInt16?
    var description: String { "\(type) \(path)" }

    static func file(_ path: String, _ text: String) -> ZipEntry { ZipEntry(path: path, data: Data(text.utf8)) }
    static func file(_ path: String, bytes: [UInt8]) -> ZipEntry { ZipEntry(path: path, data: Data(bytes)) }
    static func directory(_ path: String) -> ZipEntry { ZipEntry(path: path, type: .directory) }
    static func symlink(_ path: String, to target: String) -> ZipEntry {
        ZipEntry(path: path, type: .symlink, data: Data(target.utf8))
    }
}

extension ZipEntry.Kind {
    var zipType: Entry.EntryType {
        switch self {
        case .file: .file
        case .directory: .directory
        case .symlink: .symlink
        }
    }
}

/// A zip archive holding `entries` in order (files deflated), built in memory.
func makeZip(_ entries: [ZipEntry]) throws -> Data {
    let archive = try Archive(accessMode: .create)
    for entry in entries {
        let data = entry.data
        try archive.addEntry(
            with: entry.path, type: entry.type.zipType, uncompressedSize: Int64(data.count),
            permissions: entry.permissions,
            compressionMethod: entry.type == .file ? .deflate : .none
        ) { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
    return data
}

/// Every regular file under `root`, as relative path → contents.
func filesUnder(_ root: String) throws -> [String: Data] {
    var result: [String: Data] = [:]
    let enumerator = FileManager.default.enumerator(atPath: root)
    while let relative = enumerator?.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let path = root + "/" + relative
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            result[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
    }
    return result
}

/// The raw deflate stream of `bytes` (as zlib writes it into a zip), for ``RawZip`` entries.
func deflated(_ bytes: [UInt8]) throws -> [UInt8] {
    let zip = try makeZip([.file("x", bytes: bytes)])
    func field(_ offset: Int, _ size: Int) -> Int {
        (0..<size).reduce(0) { $0 | Int(zip[zip.startIndex + offset + $1]) << (8 * $1) }
    }
    let start = 30 + field(26, 2) + field(28, 2)
    return Array(zip[(zip.startIndex + start)..<(zip.startIndex + start + field(18, 4))])
}

/// Every path under `root` (relative, sorted), links not followed.
func treeUnder(_ root: String) -> [String] {
    ((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []).sorted()
}
