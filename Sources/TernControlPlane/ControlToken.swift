import Foundation
import HTTPTypes
import Synchronization
import TernCore

/// The control plane's bearer token (every `/v1` route but the work protocol's needs it), held
/// in memory for the checks and in `TERN_HOME/token` (mode 0600) for the CLI.
///
/// ``rotate()`` replaces both: from then on only the new token is accepted. The CLI reads the
/// file for each command, so it keeps working; other clients read the file again. See
/// docs/security.md.
public final class ControlToken: Sendable {
    private let current: Mutex<String>
    /// The token file, nil when the token lives in memory only (then it cannot be rotated).
    public let file: String?

    /// Holds `token`, stored in `file`.
    public init(_ token: String, file: String?) {
        current = Mutex(token)
        self.file = file
    }

    /// True when `presented` is the current token, compared in constant time.
    public func matches(_ presented: some Collection<UInt8>) -> Bool {
        current.withLock { ConstantTime.equals(presented, Array($0.utf8)) }
    }

    /// Makes a new token, writes it to ``file`` and accepts only it from now on.
    /// - Returns: the token file's path.
    /// - Throws: ``ControlPlaneError`` 409 when there is no token file, 500 when it cannot be
    ///   written (the old token then stays valid).
    public func rotate() throws -> String {
        guard let file else {
            throw ControlPlaneError(
                status: .conflict, kind: .badRequest, message: "this server's token is not in a file; restart it to change the token")
        }
        try current.withLock { token in
            let new = Self.generate()
            try Self.write(new, to: file)
            token = new
        }
        return file
    }

    /// A new token: 32 bytes from the system's cryptographic random source, as 64 hex digits.
    public static func generate() -> String { RandomHex.digits(64) }

    /// Writes `token` to `path` with mode 0600, atomically (a temporary file renamed over it): a
    /// reader sees the old token or the new one, never a part.
    /// - Throws: ``ControlPlaneError`` 500 naming the path and the system's reason.
    public static func write(_ token: String, to path: String) throws {
        let temporary = path + ".new"
        let failure = { (step: String) in
            ControlPlaneError(
                status: .internalServerError, kind: .internalError,
                message: "cannot \(step) the token file \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("create") }
        fchmod(fd, 0o600)
        let bytes = Array((token + "\n").utf8)
        let written = Foundation.write(fd, bytes, bytes.count)
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            unlink(temporary)
            throw failure("write")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure("replace")
        }
    }
}
