import Testing

@testable import TernCLI

/// `tern get`'s tables: columns padded to their widest cell plus two spaces, the last column
/// unpadded, decoration applied after the widths were measured.
@Suite struct TableTests {
    @Test func columnsArePaddedToTheWidestCellPlusTwo() {
        let table = renderTable(header: ["NAME", "STATUS", "ENDPOINT"], rows: [["iris", "live", "/iris"], ["a", "scaled to zero", "/a"]])
        #expect(
            table == """
                NAME  STATUS          ENDPOINT
                iris  live            /iris
                a     scaled to zero  /a
                """)
    }

    @Test func decorationKeepsTheColumnsOfTheUndecoratedText() {
        let table = renderTable(header: ["NAME", "STATUS", "N"], rows: [["iris", "live", "1"]]) { index, cell in
            index == 1 ? "<\(cell)>" : cell
        }
        #expect(table == "NAME  STATUS  N\niris  <live>    1")  // padded for "live" (4 of 6 + 2), not "<live>"
    }

    @Test func emptyTableIsTheHeader() {
        #expect(renderTable(header: ["NAME", "STATUS"], rows: []) == "NAME  STATUS")
    }
}
