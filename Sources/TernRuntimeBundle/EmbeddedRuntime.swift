import Foundation

/// The Python serving runtime (`python/tern_runtime`), embedded at build time so that the `tern`
/// binary is self-contained. The files come from `EmbeddedRuntimeFiles.swift`, which the
/// `EmbedRuntimePlugin` build-tool plugin generates from the Python sources on every build
/// where one changed (nothing generated is checked in).
///
/// A target of its own so that other tools (an image builder for the Kubernetes backend) can
/// reuse the exact runtime a `tern` binary ships, by depending on this library.
public enum EmbeddedRuntime {
    /// The first 16 hex digits of SHA-256 over, for each file in byte order of its path, the
    /// path, a NUL, the contents and a NUL; names the unpack folder
    /// (`TERN_HOME/runtime/<digest>`).
    public static var digest: String { generatedDigest }

    /// Every file of the runtime package, in byte order of path.
    public static var files: [EmbeddedFile] {
        generatedFiles.map { EmbeddedFile(path: $0.path, base64: $0.base64) }
    }
}

/// One embedded file of the runtime.
public struct EmbeddedFile: Sendable, Equatable {
    /// Path relative to the folder put on `PYTHONPATH`, e.g. `tern_runtime/server.py`.
    public var path: String
    /// The contents, base64-encoded (one string literal per file compiles fast).
    public var base64: String

    /// Creates a file entry.
    public init(path: String, base64: String) {
        self.path = path
        self.base64 = base64
    }

    /// The decoded contents; nil when ``base64`` is not valid base64 (never for generated files).
    public var contents: Data? { Data(base64Encoded: base64) }
}
