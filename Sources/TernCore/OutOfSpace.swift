import Foundation

/// Tells a write that failed because the file system is full (`ENOSPC`) or over its quota
/// (`EDQUOT`), whatever layer reported it: a `POSIXError`, Foundation's
/// `CocoaError.fileWriteOutOfSpace` (640, which wraps the POSIX error), or any `NSError` whose
/// underlying error is one of these. SQLite's `SQLITE_FULL` is matched by its callers (it is
/// GRDB's type).
public enum OutOfSpace {
    /// Whether `error` (or an error it wraps, up to 4 levels) is a full disk or quota.
    public static func matches(_ error: any Error) -> Bool {
        var current: NSError? = error as NSError
        for _ in 0..<4 {
            guard let error = current else { return false }
            if error.domain == NSPOSIXErrorDomain, [Int(ENOSPC), Int(EDQUOT)].contains(error.code) { return true }
            if error.domain == NSCocoaErrorDomain, error.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
            current = error.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        return false
    }
}
