import Foundation
import TernCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes user-facing output; colours only when the stream is a terminal (and `NO_COLOR` is unset).
struct Terminal: Sendable {
    let fd: Int32
    let isTTY: Bool

    static let standardOutput = Terminal(fd: 1)
    static let standardError = Terminal(fd: 2)

    init(fd: Int32) {
        self.fd = fd
        self.isTTY = isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    /// Writes `text` and a newline.
    func line(_ text: String = "") {
        let data = Data((text + "\n").utf8)
        data.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    }

    /// `status` in the colour that fits it: green live, red errors (``APIStatus/isError``),
    /// yellow otherwise.
    func colored(status: APIStatus) -> String {
        guard isTTY else { return status.rawValue }
        let code = status == .live ? "32" : status.isError ? "31" : "33"
        return "\u{1B}[\(code)m\(status.rawValue)\u{1B}[0m"
    }
}

/// Renders rows as a left-aligned text table with a header; `colour` may decorate a cell after
/// its width was measured.
func renderTable(header: [String], rows: [[String]], decorate: (Int, String) -> String = { $1 }) -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    func render(_ cells: [String], decorateCells: Bool) -> String {
        cells.enumerated().map { index, cell in
            let padded = index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            return decorateCells ? padded.replacingOccurrences(of: cell, with: decorate(index, cell)) : padded
        }.joined()
    }
    return ([render(header, decorateCells: false)] + rows.map { render($0, decorateCells: true) }).joined(separator: "\n")
}
