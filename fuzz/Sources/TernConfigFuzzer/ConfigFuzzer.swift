import TernCore

/// libFuzzer's entry point: loads `data` as a `tern.yaml` (``ConfigLoader/load(yaml:fileName:)``,
/// which runs ``ConfigFileLimits`` first). The property checked is the loader's contract: it
/// returns a config or throws a ``ConfigError`` whose every issue has a message; anything else —
/// a trap, a stack overflow, AddressSanitizer's report, a hang past `-timeout`, memory past
/// `-rss_limit_mb` — is a finding, and libFuzzer saves the input as `crash-…`/`timeout-…`/`oom-…`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { UnsafeBufferPointer(start: $0, count: count) } ?? UnsafeBufferPointer(start: nil, count: 0)
    let text = String(decoding: bytes, as: UTF8.self)
    do {
        _ = try ConfigLoader.load(yaml: text, fileName: "tern.yaml")
    } catch {
        for issue in error.issues where issue.message.isEmpty {
            fatalError("a ConfigError issue without a message for input of \(count) bytes")
        }
    }
    return 0
}

/// libFuzzer's driver (in the fuzzer runtime that `-sanitize=fuzzer` links).
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The executable's entry point: SwiftPM links an executable target's `main` to
/// `<module>_main`, so this hands the command line to libFuzzer's driver (the same flags as any
/// libFuzzer binary: corpus folders, `-max_total_time`, `-timeout`, `-rss_limit_mb`, …).
@_cdecl("TernConfigFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzzConfigLoader($0, $1) }
}
