import Foundation
import TernCore
import Testing

@testable import TernSupervisor

/// The local backend's log: lines written through ``APILog``, read (and followed) through
/// ``APILogReader``, without sleeping: a follower wakes on each append.
@Suite struct APILogReaderTests {
    private let path = FileManager.default.temporaryDirectory.path + "/tern-log-\(UUID().uuidString).log"

    private func read(tail: Int?, replica: String? = nil) async throws -> [String] {
        var texts: [String] = []
        for try await line in APILogReader(path: path, tail: tail, replica: replica, wake: nil).stream() {
            texts.append(line.text)
        }
        return texts
    }

    @Test func tailGivesTheLastLinesOfTheChosenSource() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = APILog(path: path)
        await log.append(["one", "two"], source: "iris-a")
        await log.append(["started"], source: "tern")
        await log.append(["three"], source: "iris-a")
        #expect(try await read(tail: nil) == ["one", "two", "started", "three"])
        #expect(try await read(tail: -1) == ["one", "two", "started", "three"])
        #expect(try await read(tail: 2) == ["started", "three"])
        #expect(try await read(tail: 0) == [])
        #expect(try await read(tail: 2, replica: "iris-a") == ["two", "three"])
        #expect(try await read(tail: nil, replica: "tern") == ["started"])
    }

    @Test func linesRenderAsTheFileHoldsThem() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = APILog(path: path)
        await log.append(["a | b", "", "ünï 🐦"], source: "iris-a")
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        var rendered = ""
        for try await line in APILogReader(path: path, tail: nil, replica: nil, wake: nil).stream() {
            rendered += line.rendered + "\n"
        }
        #expect(rendered == stored)
    }

    @Test func aMissingFileIsAnEmptyLog() async throws {
        #expect(try await read(tail: nil) == [])
    }

    @Test func aFollowerGetsNewLinesAsTheyAreWrittenAndEndsWhenTheLogCloses() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = APILog(path: path)
        await log.append(["before"], source: "tern")
        let reader = APILogReader(path: path, tail: nil, replica: nil, wake: await log.watch())
        #expect(try await reader.nextLine()?.text == "before")
        await log.append(["after 1", "after 2"], source: "iris-a")
        #expect(try await reader.nextLine()?.text == "after 1")
        #expect(try await reader.nextLine()?.text == "after 2")
        let waiting = Task { try await reader.nextLine()?.text }
        await log.append(["while waiting"], source: "iris-a")
        #expect(try await waiting.value == "while waiting")
        await log.append(["last"], source: "tern")
        await log.close()
        #expect(try await reader.nextLine()?.text == "last")
        #expect(try await reader.nextLine() == nil)
    }

    @Test func watchingAClosedLogFollowsNothing() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = APILog(path: path)
        await log.append(["only"], source: "tern")
        await log.close()
        let reader = APILogReader(path: path, tail: nil, replica: nil, wake: await log.watch())
        #expect(try await reader.nextLine()?.text == "only")
        #expect(try await reader.nextLine() == nil)
    }

    @Test func aLineStillBeingWrittenWaitsForItsNewlineWhileFollowing() throws {
        let bytes = Array("2026-11-30T04:55:03.328Z tern | whole\n2026-11-30T04:55:03.3".utf8)
        let held = APILogReader.lines(in: bytes, flushingPartial: false)
        #expect(held.lines.map(\.text) == ["whole"])
        #expect(String(decoding: held.rest, as: UTF8.self) == "2026-11-30T04:55:03.3")
        let flushed = APILogReader.lines(in: bytes, flushingPartial: true)
        #expect(flushed.lines.map(\.rendered) == ["2026-11-30T04:55:03.328Z tern | whole", "2026-11-30T04:55:03.3"])
        #expect(flushed.rest.isEmpty)
    }

    @Test func aLogPastItsCapIsRotatedSoItsFilesStayBounded() async throws {
        let rotated = APILog.rotatedPath(of: path)
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: rotated)
        }
        let log = APILog(path: path, maxBytes: 4096)
        let text = String(repeating: "x", count: 100)
        for index in 0..<500 { await log.append(["\(index) \(text)"], source: "iris-a") }  // ~70 kB written
        let current = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let previous = try #require(try FileManager.default.attributesOfItem(atPath: rotated)[.size] as? Int)
        #expect(current <= 4096)
        #expect(previous <= 4096)
        #expect(previous > 3000)  // rotated when full, not at every line
        // The current file ends with the last line, and the rotated one holds the lines before it.
        let lines = try await read(tail: nil)
        #expect(lines.last == "499 \(text)")
        let first = try #require(lines.first.flatMap { Int($0.split(separator: " ")[0]) })
        let older = try String(contentsOfFile: rotated, encoding: .utf8)
        #expect(older.contains(" iris-a | \(first - 1) \(text)\n"))
    }

    @Test func aFollowerReadsOnAcrossARotation() async throws {
        let rotated = APILog.rotatedPath(of: path)
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: rotated)
        }
        let log = APILog(path: path, maxBytes: 4096)
        await log.append(["first"], source: "tern")
        let reader = APILogReader(path: path, tail: nil, replica: nil, wake: await log.watch())
        #expect(try await reader.nextLine()?.text == "first")
        // Written while the follower is not reading: the file rotates in between.
        let text = String(repeating: "y", count: 100)
        for index in 0..<40 { await log.append(["\(index) \(text)"], source: "iris-a") }
        #expect(FileManager.default.fileExists(atPath: rotated))
        for index in 0..<40 {
            #expect(try await reader.nextLine()?.text == "\(index) \(text)")
        }
        await log.close()
        #expect(try await reader.nextLine() == nil)
    }

    @Test func noCapKeepsOneGrowingFile() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = APILog(path: path, maxBytes: 0)
        for index in 0..<100 { await log.append(["\(index) \(String(repeating: "z", count: 100))"], source: "a") }
        #expect(!FileManager.default.fileExists(atPath: APILog.rotatedPath(of: path)))
        #expect(try await read(tail: nil).count == 100)
    }
}
