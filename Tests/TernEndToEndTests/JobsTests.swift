import Foundation
import Testing
import TernCore
import TernTesting

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// BatchAPI and TaskAPI jobs on the real server, runtime and SQLite queue (fixtures
    /// `batch-recorder`, whose predictor records each batch it sees, and `task-writer`).
    @Suite(.serialized)
    struct Jobs {
        static let batchYAML = """
            - name: digits
              kind: BatchAPI
              predictor:
                type: python
                path: predictor.py
                config: {label: from-api}

            """

        static let taskYAML = """
            - name: trainer
              kind: TaskAPI
              definition:
                path: task.py

            """

        /// Deploys the batch API (with the fixture's predictor) and returns the record file to use.
        private func deployBatchAPI(on server: TestServer) throws -> String {
            let config = try makeProject(yaml: Self.batchYAML, predictorOf: "batch-recorder", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\n\(deploy.stderr)")
            return config.deletingLastPathComponent().appendingPathComponent("record.jsonl").path
        }

        private func submit(_ api: String, _ spec: String, on server: TestServer) throws -> String {
            let file = try scratchDirectory(in: server).appendingPathComponent("job.json")
            try spec.write(to: file, atomically: true, encoding: .utf8)
            let result = try server.tern("submit", api, file.path, "-o", "json")
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            return try #require(try jsonObject(result.stdout)["job_id"] as? String)
        }

        private func waitForEnd(_ api: String, _ id: String, on server: TestServer, timeout: TimeInterval = 90) async throws -> [String: Any] {
            var job: [String: Any] = [:]
            try await server.waitUntil(timeout: timeout, "job \(id) to end") {
                job = try jsonObject(try server.tern("get", api, id, "-o", "json").stdout)
                let status = job["status"] as? String ?? ""
                return !["enqueuing", "running"].contains(status)
            }
            return job
        }

        /// The lines the predictor recorded: batch ids (and `on_job_complete`).
        private func records(_ path: String) throws -> [[String: Any]] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map { try jsonObject(String($0)) }
        }

        @Test("a BatchAPI job runs every batch once on two workers, dead-letters the batch that raises, and calls on_job_complete once")
        func batchJobEndToEnd() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let record = try deployBatchAPI(on: server)
            let id = try submit(
                "digits",
                #"{"workers": 2, "retries": 1, "config": {"record_path": "\#(record)"}, "item_list": {"items": [1, 2, 3, 4, "boom", 6, 7, 8, 9, 10], "batch_size": 3}}"#,
                on: server)
            let job = try await waitForEnd("digits", id, on: server)
            #expect(job["status"] as? String == "completed with failures", "\(job)")
            #expect(job["batches_total"] as? Int == 4)
            #expect(job["batches_succeeded"] as? Int == 3)
            #expect(job["batches_failed"] as? Int == 1)
            #expect(job["items_total"] as? Int == 10)
            #expect(job["items_succeeded"] as? Int == 7)

            let lines = try records(record)
            let batches = lines.compactMap { $0["batch_id"] as? String }
            // Batch 1 ([4, "boom", 6]) raised on both of its deliveries (retries: 1).
            #expect(batches.filter { $0 != "1" }.sorted() == ["0", "2", "3"])
            #expect(batches.filter { $0 == "1" }.count == 2)
            #expect(lines.filter { $0["on_job_complete"] as? Bool == true }.count == 1)
            #expect(lines.last?["on_job_complete"] as? Bool == true)
            // The job's config was merged over the API's.
            #expect(lines.first?["config_label"] as? String == "from-api")
            // job_spec has Cortex's defaults filled in and no copy of the items.
            let seen = try #require(lines.first?["job_spec"] as? [String: Any])
            #expect(seen["workers"] as? Int == 2)
            #expect(seen["retries"] as? Int == 1)
            #expect(seen["total_batch_count"] as? Int == 4)
            #expect(seen["items_in_spec"] as? Bool == false)

            // The workers' folders (with job.json, the whole submission) go with them.
            try await server.waitUntil(timeout: 30, "the workers' run folders to be removed") {
                let folders = try FileManager.default.contentsOfDirectory(atPath: server.home.path + "/run")
                return !folders.contains { $0.hasPrefix("\(id)-") }
            }
            let dead = try server.tern("jobs", "dead-letters", "digits", id)
            #expect(dead.stdout.contains("ValueError"), "\(dead.stdout)")
            let table = try server.tern("get", "digits")
            #expect(table.stdout.contains(id) && table.stdout.contains("3/1/4"), "\(table.stdout)")
            let all = try server.tern("jobs")
            #expect(all.stdout.contains(id), "\(all.stdout)")
            let logs = try server.tern("logs", "digits", id)
            #expect(logs.stdout.contains("ValueError"), "\(logs.stdout)")
            // GET /metrics (docs/metrics.md): three batches done, batch 1 retried once then dead.
            let metrics = try await Metrics.scrape(server).body
            for (outcome, count) in [("succeeded", 3.0), ("retried", 1), ("failed", 1)] {
                #expect(
                    Metrics.value(#"tern_job_batches_total{api="digits",outcome="\#(outcome)"}"#, in: metrics) == count,
                    "\(outcome): \(metrics)")
            }
            #expect(try await server.stop() == 0)
        }

        @Test("Cortex's job routes on the API's endpoint: POST submits, GET ?jobID= gives job_status, DELETE ?jobID= stops")
        func cortexEndpointRoutes() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let record = try deployBatchAPI(on: server)
            let spec = #"{"workers": 1, "config": {"record_path": "\#(record)", "sleep_seconds": 0.3}, "item_list": {"items": [1, 2, 3, 4, 5, 6, 7, 8], "batch_size": 1}}"#
            let submitted = try await server.request("/digits", body: Data(spec.utf8))
            #expect(submitted.status == 200, "\(submitted.body)")
            let id = try #require(try jsonObject(submitted.body)["job_id"] as? String)
            #expect(try jsonObject(submitted.body)["api_name"] as? String == "digits")
            let status = try await server.request("/digits?jobID=\(id)", method: "GET", body: nil)
            #expect(status.status == 200)
            let jobStatus = try #require(try jsonObject(status.body)["job_status"] as? [String: Any])
            #expect(jobStatus["job_id"] as? String == id)
            #expect(["enqueuing", "running"].contains(jobStatus["status"] as? String ?? ""), "\(jobStatus)")
            #expect(try jsonObject(status.body)["endpoint"] as? String == "/digits")
            let stopped = try await server.request("/digits?jobID=\(id)", method: "DELETE", body: nil)
            #expect(stopped.status == 200)
            #expect(try jsonObject(stopped.body)["message"] as? String == "stopped job \(id)")
            let job = try await waitForEnd("digits", id, on: server)
            #expect(job["status"] as? String == "stopped", "\(job)")
            #expect((job["batches_succeeded"] as? Int ?? 99) < 8)

            let unknown = try await server.request("/digits?jobID=ffffffffffffffff", method: "GET", body: nil)
            #expect(unknown.status == 404)
            #expect((try errorObject(unknown.body)["message"] as? String)?.hasPrefix("API digits has no job ffffffffffffffff") == true)
            let bad = try await server.request("/digits", body: Data(#"{"workers": 0, "item_list": {"items": [1], "batch_size": 1}}"#.utf8))
            #expect(bad.status == 422, "\(bad.body)")
            #expect(try errorObject(bad.body)["kind"] as? String == "invalid_job")
            let put = try await server.request("/digits", method: "PUT", body: nil)
            #expect(put.status == 405)
            #expect(try await server.stop() == 0)
        }

        @Test("workers beyond the machine's capacity wait with a clear message; deleting the API stops its running job")
        func capacityWaitAndAPIDeletion() async throws {
            let server = try TestServer()
            try await server.start(extraArguments: ["--cpus", "1"])
            defer { try? FileManager.default.removeItem(at: server.home) }
            let yaml = Self.batchYAML + "  compute: {cpu: 600m}\n"
            let config = try makeProject(yaml: yaml, predictorOf: "batch-recorder", in: server)
            let deploy = try server.tern("deploy", config.path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\n\(deploy.stderr)")
            let record = config.deletingLastPathComponent().appendingPathComponent("record.jsonl").path
            let items = (0..<20).map(String.init).joined(separator: ", ")
            let id = try submit(
                "digits", #"{"workers": 2, "config": {"record_path": "\#(record)", "sleep_seconds": 0.5}, "item_list": {"items": [\#(items)], "batch_size": 1}}"#,
                on: server)
            var job: [String: Any] = [:]
            try await server.waitUntil(timeout: 30, "the second worker to wait for compute") {
                job = try jsonObject(try server.tern("get", "digits", id, "-o", "json").stdout)
                return (job["message"] as? String)?.contains("1 of 2 workers waiting: waiting for compute") == true
            }
            #expect(job["status"] as? String == "running")
            #expect((job["message"] as? String)?.contains("not enough CPU") == true, "\(job)")
            let deleted = try server.tern("delete", "digits")
            #expect(deleted.status == 0, "\(deleted.stderr)")
            // The API is gone, its job is kept (for its history) and stopped.
            let jobs = try jsonObject("{\"jobs\": \(try server.tern("jobs", "-o", "json").stdout)}")["jobs"] as? [[String: Any]] ?? []
            let stopped = try #require(jobs.first { $0["job_id"] as? String == id })
            #expect(stopped["status"] as? String == "stopped", "\(stopped)")
            #expect(stopped["message"] as? String == "API digits was deleted")
            #expect(try await server.stop() == 0)
        }

        @Test("bad job specs and unknown jobs get clear errors")
        func badInput() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            _ = try deployBatchAPI(on: server)
            let file = try scratchDirectory(in: server).appendingPathComponent("bad.json")
            try #"{"item_list": {"items": [], "batch_size": 1}}"#.write(to: file, atomically: true, encoding: .utf8)
            let empty = try server.tern("submit", "digits", file.path)
            #expect(empty.status != 0)
            #expect(empty.stderr.contains("item_list.items: is empty"), "\(empty.stderr)")
            try #"{"delimited_files": {"file_paths": ["/nonexistent/x.jsonl"], "batch_size": 1}}"#.write(to: file, atomically: true, encoding: .utf8)
            let missing = try server.tern("submit", "digits", file.path, "-o", "json")
            let id = try #require(try jsonObject(missing.stdout)["job_id"] as? String)
            let job = try jsonObject(try server.tern("get", "digits", id, "-o", "json").stdout)
            #expect(job["status"] as? String == "failed while enqueuing")
            #expect((job["message"] as? String)?.contains("/nonexistent/x.jsonl does not exist") == true, "\(job)")
            let unknown = try server.tern("get", "digits", "ffffffffffffffff")
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("API digits has no job ffffffffffffffff"), "\(unknown.stderr)")
            #expect(try await server.stop() == 0)
        }

        @Test("SIGKILL tern serve mid-job and start it again: the job resumes and every batch is marked done exactly once; a worker killed mid-batch has its batch redelivered")
        func resumesAfterServerKill() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let record = try deployBatchAPI(on: server)
            let items = (0..<12).map(String.init).joined(separator: ", ")
            let id = try submit(
                "digits", #"{"workers": 1, "config": {"record_path": "\#(record)", "sleep_seconds": 0.4}, "item_list": {"items": [\#(items)], "batch_size": 1}}"#,
                on: server)
            try await server.waitUntil(timeout: 60, "two batches done") {
                (try jsonObject(try server.tern("get", "digits", id, "-o", "json").stdout)["batches_succeeded"] as? Int ?? 0) >= 2
            }
            // A worker killed mid-batch: the supervisor restarts it, and its batch comes back.
            let worker = try #require(server.descendantPIDs().first { pid in
                ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("\(id)-0")
            })
            kill(worker, SIGKILL)
            try await server.waitUntil(timeout: 60, "four batches done") {
                (try jsonObject(try server.tern("get", "digits", id, "-o", "json").stdout)["batches_succeeded"] as? Int ?? 0) >= 4
            }
            let pid = try #require(server.process?.processIdentifier)
            kill(pid, SIGKILL)
            #expect(try await server.waitForExit() == 9)
            try await server.start()
            let job = try await waitForEnd("digits", id, on: server)
            #expect(job["status"] as? String == "succeeded", "\(job)")
            #expect(job["batches_succeeded"] as? Int == 12)
            let seen = Set(try records(record).compactMap { $0["batch_id"] as? String })
            #expect(seen == Set((0..<12).map(String.init)), "every batch ran at least once")
            #expect(try records(record).filter { $0["on_job_complete"] as? Bool == true }.count == 1)
            #expect(try await server.stop() == 0)
        }

        @Test("a TaskAPI job runs Task()(config) once; a task that raises ends as worker error with its exception")
        func taskJob() async throws {
            let server = try TestServer()
            try await server.start()
            defer { try? FileManager.default.removeItem(at: server.home) }
            let directory = try scratchDirectory(in: server)
            try FileManager.default.copyItem(
                at: TestEnvironment.fixture("task-writer").appendingPathComponent("task.py"), to: directory.appendingPathComponent("task.py"))
            try Self.taskYAML.write(to: directory.appendingPathComponent("tern.yaml"), atomically: true, encoding: .utf8)
            let deploy = try server.tern("deploy", directory.appendingPathComponent("tern.yaml").path, "--timeout", "60")
            #expect(deploy.status == 0, "\(deploy.stdout)\n\(deploy.stderr)")
            let output = directory.appendingPathComponent("out.json").path
            let id = try submit("trainer", #"{"config": {"output_path": "\#(output)", "epochs": 3}}"#, on: server)
            let job = try await waitForEnd("trainer", id, on: server)
            #expect(job["status"] as? String == "succeeded", "\(job)")
            let written = try jsonObject(try String(contentsOfFile: output, encoding: .utf8))
            #expect(written["epochs"] as? Int == 3)

            let failing = try submit("trainer", #"{"config": {"fail": true}}"#, on: server)
            let failed = try await waitForEnd("trainer", failing, on: server)
            #expect(failed["status"] as? String == "worker error", "\(failed)")
            #expect((failed["exit"] as? String)?.contains("code 1") == true, "\(failed)")
            #expect(try await server.stop() == 0)
        }
    }
}
