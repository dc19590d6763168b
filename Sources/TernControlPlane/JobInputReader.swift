import Foundation
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a BatchAPI job's input into batches: each batch is the JSON array of its items.
///
/// Local files only (paths and `file://` URLs, relative ones against the server's working
/// directory); the seam for object stores later is ``read(_:)``'s input enum.
public enum JobInputReader {
    /// A batch: its JSON array and how many items it has.
    public typealias Batch = (payload: [UInt8], items: Int)

    /// The input split into batches of `batchSize` items.
    /// - Throws: ``JobSpecError`` naming the file (missing, unreadable, no files matched) and, for
    ///   `delimited_files`, the line of a line that is not JSON.
    public static func read(_ input: JobInput) throws(JobSpecError) -> [Batch] {
        switch input {
        case .itemList(let items, let batchSize):
            return try batches(items, batchSize)
        case .filePathLister(let paths, let includes, let excludes, let batchSize):
            return try batches(try files(paths, includes, excludes, key: "file_path_lister").map(JSONValue.string), batchSize)
        case .delimitedFiles(let paths, let includes, let excludes, let batchSize):
            var items: [JSONValue] = []
            for file in try files(paths, includes, excludes, key: "delimited_files") {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw JobSpecError("delimited_files: cannot read \(file)")
                }
                var line = 0
                for text in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                    line += 1
                    guard text.contains(where: { !($0 == 32 || $0 == 9 || $0 == 13) }) else { continue }
                    do {
                        items.append(try JSONDecoder().decode(JSONValue.self, from: Data(text)))
                    } catch {
                        throw JobSpecError("delimited_files: \(file), line \(line): not a JSON value")
                    }
                }
            }
            guard !items.isEmpty else { throw JobSpecError("delimited_files: the files hold no items") }
            return try batches(items, batchSize)
        }
    }

    private static func batches(_ items: [JSONValue], _ size: Int) throws(JobSpecError) -> [Batch] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var result: [Batch] = []
        var start = 0
        while start < items.count {
            let slice = Array(items[start..<min(start + size, items.count)])
            do {
                result.append(([UInt8](try encoder.encode(slice)), slice.count))
            } catch {
                throw JobSpecError("an item cannot be encoded as JSON: \(error)")
            }
            start += size
        }
        return result
    }

    /// The files under `paths` (a folder recursively, in name order) matching an include glob (all
    /// when none) and no exclude glob (`fnmatch`, where `*` also matches `/`).
    static func files(_ paths: [String], _ includes: [String], _ excludes: [String], key: String) throws(JobSpecError) -> [String] {
        var found: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw JobSpecError("\(key).file_paths: \(path) does not exist (on the machine running tern serve)")
            }
            if isDirectory.boolValue {
                guard let entries = FileManager.default.enumerator(atPath: path) else {
                    throw JobSpecError("\(key).file_paths: cannot list \(path)")
                }
                var files: [String] = []
                for case let entry as String in entries {
                    let full = (path as NSString).appendingPathComponent(entry)
                    var entryIsDirectory: ObjCBool = false
                    if FileManager.default.fileExists(atPath: full, isDirectory: &entryIsDirectory), !entryIsDirectory.boolValue {
                        files.append(full)
                    }
                }
                found += files.sorted()
            } else {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw JobSpecError("\(key).file_paths: \(path) is not readable")
                }
                found.append(path)
            }
        }
        let matched = found.filter { file in
            (includes.isEmpty || includes.contains { fnmatch($0, file, 0) == 0 }) && !excludes.contains { fnmatch($0, file, 0) == 0 }
        }
        guard !matched.isEmpty else {
            throw JobSpecError("\(key): no file under \(paths.joined(separator: ", ")) matches includes/excludes")
        }
        return matched
    }
}
