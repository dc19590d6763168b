import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TernClient
import TernCore

extension Tern {
    struct Predict: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a request to an API and print its answer.",
            discussion: """
                The file is sent as the request body: as application/json when it ends in .json, \
                as raw bytes otherwise. Use - to read standard input.

                Examples:
                  tern predict iris sample.json
                  cat sample.json | tern predict iris -
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Argument(help: "File holding the request body (- for standard input).")
        var file: String

        func run() async throws {
            let body: Data
            if file == "-" {
                body = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                body = try Self.readBody(file)
            }
            let client = try await global.client()
            let api = try await client.getAPI(name)
            var request = HTTPClientRequest(url: api.endpoint)
            request.method = .POST
            let isJSON = file == "-" || file.hasSuffix(".json")
            request.headers.add(name: "Content-Type", value: isJSON ? "application/json" : "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: body))
            let response: HTTPClientResponse
            do {
                response = try await client.http.execute(request, timeout: .minutes(10))
            } catch {
                throw CLIError("cannot reach \(api.endpoint): \(error)")
            }
            let answer = try await response.body.collect(upTo: 1 << 30)
            let text = String(buffer: answer)
            guard (200..<300).contains(response.status.code) else {
                if let document = try? WireJSON.decoder().decode(ErrorDocument.self, from: Data(answer.readableBytesView)) {
                    throw CLIError("\(response.status.code) \(document.error.kind): \(document.error.message)")
                }
                throw CLIError("\(response.status.code): \(text)")
            }
            Terminal.standardOutput.line(text)
        }

        /// The bytes of `path`.
        /// - Throws: ``CLIError`` saying why it cannot be read (`no such file`, `is a directory`,
        ///   `permission denied`, …).
        static func readBody(_ path: String) throws -> Data {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw CLIError("cannot read \(path): is a directory; give a file holding the request body")
            }
            do {
                return try Data(contentsOf: URL(fileURLWithPath: path))
            } catch let error as CocoaError {
                let reason =
                    switch error.code {
                    case .fileReadNoSuchFile, .fileNoSuchFile: "no such file"
                    case .fileReadNoPermission: "permission denied"
                    default:
                        (error.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) }
                            ?? error.localizedDescription
                    }
                throw CLIError("cannot read \(path): \(reason)")
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an API's logs (its replicas' output and Tern's own lines).",
            discussion: """
                Examples:
                  tern logs iris
                  tern logs iris -f
                  tern logs iris --tail 50
                  tern logs iris --random-pod
                  tern logs iris --since 10m --level error
                  tern logs iris -o json | jq 'select(.request_id == "3f9a1c2b-17")'
                  tern logs digits 0193a1b2c3d4e5f6 -f     (a job's workers)

                Levels are read off each line (see docs/logs.md): a level word (ERROR, WARNING, ... as Python's logging writes them), the runtime's traceback of a failed request (error), Tern's lines about replicas that exited or failed (warning); everything else is info.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Argument(help: "A job id of a BatchAPI or TaskAPI: only its workers' lines.")
        var job: String?

        @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted.")
        var follow = false

        @Option(help: "Print only the last N lines first.")
        var tail: Int?

        @Flag(help: "Print the lines of one replica only, chosen at random among the ready ones (Cortex's --random-pod).")
        var randomPod = false

        @Option(help: "Print the lines of this replica only (an id from `tern get NAME`).")
        var replica: String?

        @Option(help: "Print only lines written in the last DURATION (30s, 10m, 2h) or since an RFC 3339 time.")
        var since: String?

        @Option(help: "Print only lines at this level or above.")
        var level: LogLevel?

        @Option(name: .shortAndLong, help: "text: as stored; json: one object per line (time, api, source, level, request_id, text).")
        var output: LogOutput = .text

        /// `tern logs -o` formats.
        enum LogOutput: String, ExpressibleByArgument, CaseIterable { case text, json }

        func validate() throws {
            if let since { _ = try LogFilter.start(since: since, now: Date()) }
            if randomPod && replica != nil { throw ValidationError("give --random-pod or --replica, not both") }
            if job != nil && (randomPod || replica != nil) { throw ValidationError("give a job id or --replica/--random-pod, not both") }
            if job?.isEmpty == true { throw ValidationError("the job id is empty") }
        }

        func run() async throws {
            let client = try await global.client()
            var replica = self.replica ?? job
            if randomPod {
                let replicas = try await client.getAPI(name).replicas
                let pick = replicas.filter { $0.state == .ready }.randomElement() ?? replicas.randomElement()
                guard let pick else { throw CLIError("\(name) has no replicas; see `tern get \(name)`") }
                Terminal.standardError.line("Logs of replica \(pick.id):")
                replica = pick.id
            }
            if let job { _ = try await client.getJob(name, id: job) }  // an unknown job: 404, said so
            let lines = try await client.logs(name, follow: follow, tail: tail, replica: replica)
            let filter = try LogFilter(
                api: name, since: since.map { try LogFilter.start(since: $0, now: Date()) }, level: level, json: output == .json)
            guard follow, let job else { return try await Self.copy(lines, filter) }
            // Following a job ends a second after the job does.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Self.copy(lines, filter) }
                group.addTask {
                    while try await !client.getJob(name, id: job).status.isFinal { try await Task.sleep(for: .seconds(1)) }
                    try await Task.sleep(for: .seconds(1))
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }

        /// Copies the log to standard output: as it comes when `filter` keeps every line as it is,
        /// else line by line through `filter`.
        private static func copy(_ chunks: some AsyncSequence<ByteBuffer, any Error>, _ filter: LogFilter) async throws {
            var filter = filter
            guard !filter.keepsEverything else {
                for try await chunk in chunks {
                    chunk.withUnsafeReadableBytes { _ = write(1, $0.baseAddress, $0.count) }
                }
                return
            }
            var pending = ByteBuffer()
            for try await var chunk in chunks {
                pending.writeBuffer(&chunk)
                var out: [String] = []
                while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = newline - pending.readerIndex
                    let line = pending.readString(length: length) ?? ""
                    pending.moveReaderIndex(forwardBy: 1)
                    if let shown = filter.render(line) { out.append(shown) }
                }
                pending.discardReadBytes()
                if !out.isEmpty { Terminal.standardOutput.line(out.joined(separator: "\n")) }
            }
            if pending.readableBytes > 0, let shown = filter.render(pending.readString(length: pending.readableBytes) ?? "") {
                Terminal.standardOutput.line(shown)
            }
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restart every replica of an API as a rolling update.",
            discussion: """
                Replicas are replaced following the API's update_strategy; requests keep being served.

                Example:
                  tern refresh iris
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Flag(name: .shortAndLong, help: "Refresh even while an update is in progress (Cortex's -f; Tern always does).")
        var force = false

        func run() async throws {
            let client = try await global.client()
            try await client.refresh(name)
            Terminal.standardOutput.line("Refreshing \(name): replicas are replaced one by one (`tern get \(name)` shows progress).")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an API and stop its replicas.",
            discussion: """
                New requests get 404 at once; requests in flight finish first.

                Examples:
                  tern delete iris
                  tern delete iris -f -e prod
                  tern delete digits 0193a1b2c3d4e5f6     (stops a job)
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Argument(help: "A job id: stop that job of a BatchAPI or TaskAPI instead of deleting the API.")
        var job: String?

        @Flag(name: .shortAndLong, help: "Delete without asking (Tern asks nothing; accepted for Cortex scripts).")
        var force = false

        @Flag(name: [.customShort("c"), .long], help: "Keep cached files (Tern keeps its dependency environments either way).")
        var keepCache = false

        func validate() throws {
            // `tern delete api "$JOB"` with an empty $JOB must not delete the whole API.
            if job?.isEmpty == true { throw ValidationError("the job id is empty; to delete the API itself, give no job id") }
        }

        func run() async throws {
            let client = try await global.client()
            if let job {
                let stopped = try await client.stopJob(name, id: job)
                Terminal.standardOutput.line("Job \(job) of \(name): \(stopped.status.rawValue).")
                return
            }
            try await client.deleteAPI(name)
            Terminal.standardOutput.line("Deleted \(name).")
        }
    }
}
