import ArgumentParser
import Foundation
import TernClient
import TernCore

extension Tern {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit a job to a BatchAPI or TaskAPI.",
            discussion: """
                The job spec is Cortex's JSON: workers, timeout (s), retries (or \
                sqs_dead_letter_queue.max_receive_count), config, and for a BatchAPI one input: \
                item_list {items, batch_size}, file_path_lister {file_paths, includes, excludes, \
                batch_size} or delimited_files {…} (JSON lines). See docs/jobs.md.

                Answers once the input is read (or after 1 s, with status enqueuing, while a \
                large input is still being read). Exits 1 when the job failed while enqueuing, \
                or, with --watch, when it ends other than succeeded.

                Examples:
                  tern submit digits job.json
                  tern submit digits job.json --watch
                  echo '{"config": {"epochs": 3}}' | tern submit train -
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The API's name.")
        var name: String

        @Argument(help: "The job spec file (JSON), or - for standard input.")
        var file: String

        @Flag(name: .shortAndLong, help: "Show the job's progress until it ends.")
        var watch = false

        @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
        var output: OutputFormat = .table

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw CLIError("cannot read \(file); give the path of a JSON job spec")
                }
                data = contents
            }
            let client = try await global.client()
            let job = try await client.submitJob(name, spec: data)
            if output != .table {
                Terminal.standardOutput.line(try output.encoded(job))
            } else {
                Terminal.standardOutput.line("Submitted job \(job.jobID) to \(name): \(job.status.rawValue)"
                    + (job.batchesTotal > 0 ? ", \(job.batchesTotal) batches of \(job.itemsTotal) items" : "")
                    + (job.message.map { " (\($0))" } ?? ""))
            }
            var final = job.status.isFinal ? job : nil
            if watch { final = try await JobView.watch(client: client, api: name, id: job.jobID) }
            // Scripts can tell: exit 1 when the job failed (at once while enqueuing, or by the end of --watch).
            if let final, final.status != .succeeded {
                Terminal.standardError.line("job \(final.jobID) ended \(final.status.rawValue)" + (final.message.map { ": \($0)" } ?? ""))
                throw ExitCode(1)
            }
        }
    }

    struct Jobs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs across APIs, show dead letters, retry them.",
            discussion: """
                Examples:
                  tern jobs
                  tern jobs digits
                  tern jobs dead-letters digits 0193a1b2c3d4e5f6
                  tern jobs retry digits 0193a1b2c3d4e5f6
                """,
            subcommands: [List.self, DeadLetters.self, Retry.self], defaultSubcommand: List.self)

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Only this API's jobs.")
            var name: String?
            @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
            var output: OutputFormat = .table

            func run() async throws {
                let jobs = try await global.client().listJobs(name)
                if output != .table { return Terminal.standardOutput.line(try output.encoded(jobs)) }
                Terminal.standardOutput.line(jobs.isEmpty ? "No jobs. Submit one with `tern submit API job.json`." : JobView.table(jobs, withAPI: true))
            }
        }

        struct DeadLetters: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "dead-letters", abstract: "Show the batches of a job that failed every delivery, with their errors.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The API's name.")
            var name: String
            @Argument(help: "The job id.")
            var job: String
            @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
            var output: OutputFormat = .table

            func run() async throws {
                let letters = try await global.client().deadLetters(name, id: job)
                if output != .table { return Terminal.standardOutput.line(try output.encoded(letters)) }
                Terminal.standardOutput.line(
                    letters.isEmpty
                        ? "Job \(job) has no dead letters."
                        : renderTable(
                            header: ["BATCH", "ITEMS", "RECEIVES", "ERROR"],
                            rows: letters.map { [$0.batchID, "\($0.items)", "\($0.receives)", $0.error ?? ""] }))
            }
        }

        struct Retry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Queue a job's dead letters again (the job runs again if it had ended).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The API's name.")
            var name: String
            @Argument(help: "The job id.")
            var job: String

            func run() async throws {
                let count = try await global.client().retryJob(name, id: job)
                Terminal.standardOutput.line("Queued \(count) batch(es) of job \(job) again.")
            }
        }
    }
}

/// How jobs are shown: the `tern get API` / `tern jobs` table and `tern get API JOB_ID`.
enum JobView {
    static func table(_ jobs: [JobDocument], withAPI: Bool, now: Date = Date()) -> String {
        renderTable(
            header: (withAPI ? ["API"] : []) + ["JOB ID", "STATUS", "BATCHES (DONE/FAILED/TOTAL)", "ITEMS/S", "STARTED", "DURATION"],
            rows: jobs.map { job in
                (withAPI ? [job.api] : []) + [
                    job.jobID, job.status.rawValue, "\(job.batchesSucceeded)/\(job.batchesFailed)/\(job.batchesTotal)",
                    job.itemsPerSecond(now: now).map { String(format: "%.1f", $0) } ?? "-",
                    job.startedAt.map(timestamp) ?? "-",
                    job.startedAt.map { duration((job.endedAt ?? now).timeIntervalSince($0)) } ?? "-",
                ]
            })
    }

    static func detail(_ job: JobDocument, now: Date = Date()) -> String {
        var lines = [
            "job:       \(job.jobID) (\(job.kind) \(job.api))",
            "status:    \(job.status.rawValue)" + (job.message.map { " — \($0)" } ?? ""),
        ]
        if job.kind == APIKind.batchAPI.rawValue {
            let finished = job.batchesSucceeded + job.batchesFailed
            let percent = job.batchesTotal > 0 ? Int(Double(finished) / Double(job.batchesTotal) * 100) : 0
            lines.append("batches:   \(job.batchesSucceeded) done, \(job.batchesFailed) failed (dead letters), \(job.batchesInProgress) in progress, \(job.batchesTotal) in all (\(percent) %)")
            lines.append("items:     \(job.itemsSucceeded) of \(job.itemsTotal) done" + (job.itemsPerSecond(now: now).map { String(format: ", %.1f items/s", $0) } ?? ""))
            if let eta = job.etaSeconds(now: now) { lines.append("eta:       \(duration(eta))") }
        }
        lines.append("workers:   \(job.workersRunning) running of \(job.workers)")
        if let exit = job.exit { lines.append("exit:      \(exit)") }
        lines.append("submitted: \(timestamp(job.createdAt))")
        if let started = job.startedAt { lines.append("started:   \(timestamp(started)), ran \(duration((job.endedAt ?? now).timeIntervalSince(started)))") }
        return lines.joined(separator: "\n")
    }

    /// Prints the job's progress every second until it ends (redrawn on a TTY).
    /// - Returns: the job as it ended.
    @discardableResult
    static func watch(client: TernClient, api: String, id: String) async throws -> JobDocument {
        let terminal = Terminal.standardOutput
        while true {
            let job = try await client.getJob(api, id: id)
            let text = detail(job)
            if terminal.isTTY { terminal.line("\u{1B}[2J\u{1B}[H" + text) } else { terminal.line(text + "\n") }
            if job.status.isFinal { return job }
            try await Task.sleep(for: .seconds(1))
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1fs", max(seconds, 0)) }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\((total % 3600) / 60)m"
    }
}
