import Foundation

/// Failed model reloads that a replica reports (case C29, docs/models.md): each worker of a
/// replica with `predictor.models` writes `<socket dir>/model-problems-<worker>.json`,
/// atomically, whenever its list changes:
///
/// ```json
/// {"problems": [{"model": "a", "version": 3, "path": "/srv/models/a/3",
///                "message": "cannot load model \"a\" version 3 from /srv/models/a/3: JSONDecodeError: …; serving version 2 of model \"a\" as latest"}]}
/// ```
///
/// A problem stays listed until that version loads or is removed. The supervisor shows the
/// messages in the API's status (``StatusDeriver``) while the API is otherwise live.
enum ModelProblems {
    /// File name prefix of the per-worker files in a replica's socket directory.
    static let filePrefix = "model-problems-"

    private struct File: Decodable {
        struct Problem: Decodable {
            var message: String
        }
        var problems: [Problem]
    }

    /// The messages of one file's contents, in file order; `[]` for contents that are not such a
    /// document (a file being replaced is never half-written, but an old runtime may write none).
    static func messages(in data: Data) -> [String] {
        (try? JSONDecoder().decode(File.self, from: data))?.problems.map(\.message) ?? []
    }

    /// The distinct messages of every worker's file in `socketDirectory`, workers in index order;
    /// `[]` when there is none (no `predictor.models`, or nothing failed).
    static func read(socketDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: socketDirectory)) ?? []
        let files = names.filter { $0.hasPrefix(filePrefix) && $0.hasSuffix(".json") }.sorted()
        var seen: Set<String> = []
        return files.flatMap { name -> [String] in
            guard let data = FileManager.default.contents(atPath: socketDirectory + "/" + name) else { return [] }
            return messages(in: data).filter { seen.insert($0).inserted }
        }
    }
}
