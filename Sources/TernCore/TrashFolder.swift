import Foundation

/// Deleting folders of a directory in two steps, as the garbage collectors of bundles
/// (`TERN_HOME/bundles`) and `requirements.txt` environments (`TERN_HOME/venvs`) do:
/// ``retire(_:)`` renames a folder to `.trash-<uuid>` beside it (one `rename(2)`, so from then on
/// nothing finds, or reuses, the folder under its name), and ``empty()`` deletes the
/// `.trash-*` folders, which may take long: call it off the event loops and actors' executors.
/// A crash between the two leaves only `.trash-*` folders, which the next ``empty()`` deletes.
public struct TrashFolder: Sendable {
    /// What the name of every retired folder starts with.
    public static let prefix = ".trash-"

    /// The directory whose entries are retired.
    public let directory: String

    /// Retires entries of `directory`.
    public init(directory: String) {
        self.directory = directory
    }

    /// Whether `name` is a retired folder's name.
    public static func isTrash(_ name: String) -> Bool { name.hasPrefix(prefix) }

    /// Renames `directory/name` to a `.trash-<uuid>` name; false when it could not be renamed
    /// (it is not there, or the directory is read-only).
    public func retire(_ name: String) -> Bool {
        (try? FileManager.default.moveItem(
            atPath: directory + "/" + name, toPath: directory + "/" + Self.prefix + UUID().uuidString)) != nil
    }

    /// Deletes every `.trash-*` entry of `directory` (blocking, for as long as the files take).
    /// - Returns: how many it deleted.
    @discardableResult
    public func empty() -> Int {
        let manager = FileManager.default
        var deleted = 0
        for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where Self.isTrash(name) {
            if (try? manager.removeItem(atPath: directory + "/" + name)) != nil { deleted += 1 }
        }
        return deleted
    }
}
