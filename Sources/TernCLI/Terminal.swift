import Foundation
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes user-facing output. Colours only when the stream is a terminal and the user did not
/// turn them off (``colorsEnabled(isTTY:environment:)``); live lines (progress, `--watch`
/// redraws) only on a terminal.
struct Terminal: Sendable {
    let fd: Int32
    /// The stream is a terminal: output may redraw itself (progress lines, `--watch`).
    let isTTY: Bool
    /// Output may carry colours (ANSI escape sequences).
    let usesColors: Bool

    static let standardOutput = Terminal(fd: 1)
    static let standardError = Terminal(fd: 2)

    /// A writer of descriptor `fd`; `environment` decides colours (default: this process's).
    init(fd: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.fd = fd
        self.isTTY = isatty(fd) == 1
        self.usesColors = Self.colorsEnabled(isTTY: isTTY, environment: environment)
    }

    /// Whether to colour output: only on a terminal, never with `NO_COLOR` set to anything but
    /// the empty string (no-color.org), nor with `TERM=dumb`.
    static func colorsEnabled(isTTY: Bool, environment: [String: String]) -> Bool {
        isTTY && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    /// Writes `text` and a newline.
    func line(_ text: String = "") {
        let data = Data((text + "\n").utf8)
        data.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    }

    /// `status` in the colour that fits it: green live, red errors (``APIStatus/isError``),
    /// yellow otherwise.
    func colored(status: APIStatus) -> String {
        guard usesColors else { return status.rawValue }
        let code = status == .live ? "32" : status.isError ? "31" : "33"
        return "\u{1B}[\(code)m\(status.rawValue)\u{1B}[0m"
    }
}

/// Renders rows as a left-aligned text table with a header: each cell but the last of a row is
/// followed by spaces up to its column's width (in characters) plus 2. `decorate(column, cell)`
/// may replace a row cell (e.g. colour it) after the widths were measured; header cells are not
/// decorated.
///
/// Builds each line by appending (no Foundation string search or padding): with 1,000 APIs the
/// earlier `padding(toLength:)` + `replacingOccurrences` per cell took a third of `tern get`'s
/// time (`bench/scale.sh`).
func renderTable(header: [String], rows: [[String]], decorate: (Int, String) -> String = { $1 }) -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    func render(_ cells: [String], decorateCells: Bool) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            line += decorateCells ? decorate(index, cell) : cell
            if index < cells.count - 1 { line += String(repeating: " ", count: widths[index] + 2 - cell.count) }
        }
        return line
    }
    return ([render(header, decorateCells: false)] + rows.map { render($0, decorateCells: true) }).joined(separator: "\n")
}
