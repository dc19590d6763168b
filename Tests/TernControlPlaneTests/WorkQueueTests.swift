import Foundation
import TernControlPlane
import TernCore
import Testing

/// The durable queue of job batches in a real SQLite file, with the time passed in.
@Suite struct WorkQueueTests {
    /// Kept for the whole test (its deinit removes the folder).
    private let folder: TemporaryDirectory

    init() throws { folder = try TemporaryDirectory() }

    private func queue(batches: Int) throws -> Store {
        let store = try Store(path: folder.path + "/tern.db")
        try store.insertJob(
            StoredJob(
                id: "j1", api: "digits", kind: .batchAPI, submission: Array("{}".utf8), token: "t", status: .enqueuing, message: nil,
                batchesTotal: 0, itemsTotal: 0, completion: "pending", completionWorker: nil, completionUntil: nil, createdAt: 0,
                startedAt: nil, endedAt: nil, exit: nil))
        try store.enqueueBatches(
            job: "j1", payloads: (0..<batches).map { Array("[\($0)]".utf8) }, items: Array(repeating: 1, count: batches))
        return store
    }

    @Test func batchesAreLeasedInInputOrderToOneWorkerEach() throws {
        let store = try queue(batches: 3)
        #expect(try store.job(id: "j1")?.status == .running)
        #expect(try store.job(id: "j1")?.batchesTotal == 3)
        let a = try #require(try store.lease(queue: "j1", worker: "w0", receipt: "r0", now: 100, leaseSeconds: 30))
        let b = try #require(try store.lease(queue: "j1", worker: "w1", receipt: "r1", now: 100, leaseSeconds: 30))
        #expect(a.id == "0")
        #expect(String(decoding: a.payload, as: UTF8.self) == "[0]")
        #expect(b.id == "1")
        #expect(try store.counts(queue: "j1") == QueueCounts(queued: 1, leased: 2, done: 0, dead: 0, itemsDone: 0))
    }

    @Test func aBatchIsMarkedDoneOnceOnlyWithItsCurrentReceipt() throws {
        let store = try queue(batches: 1)
        _ = try store.lease(queue: "j1", worker: "w0", receipt: "r0", now: 100, leaseSeconds: 30)
        // w0 hangs past its lease: the batch goes to w1.
        #expect(try store.expireLeases(queue: "j1", now: 131, retries: 2, leaseSeconds: 30) == 1)
        let again = try #require(try store.lease(queue: "j1", worker: "w1", receipt: "r1", now: 131, leaseSeconds: 30))
        #expect(again.id == "0")
        #expect(try store.markDone(queue: "j1", id: "0", receipt: "r0", now: 132) == false)  // late w0
        #expect(try store.heartbeat(queue: "j1", id: "0", receipt: "r0", now: 132, leaseSeconds: 30) == false)
        #expect(try store.markDone(queue: "j1", id: "0", receipt: "r1", now: 133) == true)
        #expect(try store.markDone(queue: "j1", id: "0", receipt: "r1", now: 134) == false)  // a second done
        #expect(try store.counts(queue: "j1") == QueueCounts(queued: 0, leased: 0, done: 1, dead: 0, itemsDone: 1))
    }

    @Test func heartbeatsKeepALeaseAlive() throws {
        let store = try queue(batches: 1)
        _ = try store.lease(queue: "j1", worker: "w0", receipt: "r0", now: 100, leaseSeconds: 30)
        #expect(try store.heartbeat(queue: "j1", id: "0", receipt: "r0", now: 125, leaseSeconds: 30) == true)
        #expect(try store.expireLeases(queue: "j1", now: 150, retries: 2, leaseSeconds: 30) == 0)  // until 155 now
        #expect(try store.expireLeases(queue: "j1", now: 156, retries: 2, leaseSeconds: 30) == 1)
    }

    @Test func aBatchFailingRetriesPlusOneTimesIsDeadLetteredWithItsError() throws {
        let store = try queue(batches: 1)
        for attempt in 0..<3 {
            _ = try #require(try store.lease(queue: "j1", worker: "w0", receipt: "r\(attempt)", now: 100, leaseSeconds: 30))
            #expect(try store.markFailed(queue: "j1", id: "0", receipt: "r\(attempt)", error: "ValueError: boom", retries: 2, now: 101))
        }
        #expect(try store.lease(queue: "j1", worker: "w0", receipt: "r9", now: 102, leaseSeconds: 30) == nil)
        #expect(try store.deadLetters(queue: "j1") == [DeadLetter(batchID: "0", receives: 3, error: "ValueError: boom", items: 1)])
        #expect(try store.requeueDeadLetters(queue: "j1") == 1)
        #expect(try store.counts(queue: "j1").queued == 1)
    }

    @Test func leasesOfWorkersThatDiedWithTheServerComeBackWithoutCountingAReceive() throws {
        let store = try queue(batches: 2)
        _ = try store.lease(queue: "j1", worker: "w0", receipt: "r0", now: 100, leaseSeconds: 30)
        #expect(try store.releaseLeases(queue: "j1") == 1)
        let again = try #require(try store.lease(queue: "j1", worker: "w1", receipt: "r1", now: 101, leaseSeconds: 30))
        #expect(again.id == "0")
        for _ in 0..<2 {
            #expect(try store.markFailed(queue: "j1", id: "0", receipt: "r1", error: "e", retries: 1, now: 102) == true)
            _ = try store.lease(queue: "j1", worker: "w1", receipt: "r1", now: 103, leaseSeconds: 30)
        }
        // receives: 1 (after the release) + 1 → dead after the second failure with retries 1.
        #expect(try store.deadLetters(queue: "j1").map(\.batchID) == ["0"])
    }

    @Test func onJobCompleteGoesToOneWorkerUntilItsTimeRunsOut() throws {
        let store = try queue(batches: 0)
        #expect(try store.leaseCompletion(job: "j1", worker: "w0", now: 100, until: 130) == true)
        #expect(try store.leaseCompletion(job: "j1", worker: "w1", now: 110, until: 140) == false)
        #expect(try store.leaseCompletion(job: "j1", worker: "w1", now: 131, until: 161) == true)
        #expect(try store.completeCompletion(job: "j1", worker: "w0") == false)
        #expect(try store.completeCompletion(job: "j1", worker: "w1") == true)
        #expect(try store.job(id: "j1")?.completion == "done")
    }

    @Test func finishedJobsPastTheirRetentionAreDeletedWithTheirBatches() throws {
        let store = try queue(batches: 2)
        try store.setJobStatus(id: "j1", .succeeded, message: nil, now: 1000)
        #expect(try store.deleteJobs(endedBefore: 999) == 0)
        #expect(try store.deleteJobs(endedBefore: 1001) == 1)
        #expect(try store.job(id: "j1") == nil)
        #expect(try store.counts(queue: "j1") == QueueCounts())
    }
}

/// Job submissions as Cortex wrote them, and what is refused.
@Suite struct JobSpecParserTests {
    private func parse(_ json: String, kind: APIKind = .batchAPI) throws(JobSpecError) -> JobSpec {
        try JobSpecParser.parse(Array(json.utf8), kind: kind)
    }

    private func problem(_ json: String, kind: APIKind = .batchAPI) -> String? {
        do throws(JobSpecError) {
            _ = try parse(json, kind: kind)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func aCortexSubmissionReadsWithItsDefaults() throws {
        let spec = try parse(#"{"workers": 2, "item_list": {"items": [1, "a"], "batch_size": 1}, "config": {"k": 1}, "timeout": 60}"#)
        #expect(spec == JobSpec(workers: 2, timeoutSeconds: 60, retries: 2, config: ["k": .number(1)], input: .itemList(items: [.number(1), .string("a")], batchSize: 1)))
        let dlq = try parse(#"{"item_list": {"items": [1], "batch_size": 1}, "sqs_dead_letter_queue": {"arn": "x", "max_receive_count": 5}}"#)
        #expect(dlq.retries == 4)
        let files = try parse(#"{"delimited_files": {"s3_paths": ["file:///data/a.jsonl", "rel/b.jsonl"], "batch_size": 10}}"#)
        #expect(files.input == .delimitedFiles(paths: ["/data/a.jsonl", "rel/b.jsonl"], includes: [], excludes: [], batchSize: 10))
        #expect(try parse(#"{"config": {"epochs": 3}}"#, kind: .taskAPI) == JobSpec(config: ["epochs": .number(3)]))
    }

    @Test func badSubmissionsNameTheKey() {
        #expect(problem(#"{"item_list": {"items": [], "batch_size": 1}}"#) == "item_list.items: is empty; a job needs at least one item")
        #expect(problem(#"{"item_list": {"items": [1], "batch_size": 0}}"#) == "item_list.batch_size: must be between 1 and 1000000 (got 0)")
        #expect(problem(#"{"workers": 1}"#)?.hasPrefix("the job has no input") == true)
        #expect(problem(#"{"item_list": {"items": [1], "batch_size": 1}, "delimited_files": {"file_paths": ["a"], "batch_size": 1}}"#) == "give one input, not item_list and delimited_files")
        #expect(problem(#"{"file_path_lister": {"file_paths": ["s3://bucket/x"], "batch_size": 1}}"#)?.contains("only local paths and file:// URLs") == true)
        #expect(problem(#"{"item_list": {"items": [1], "batch_size": 1}, "wrokers": 2}"#)?.hasPrefix("unknown key wrokers") == true)
        #expect(problem("[1]") == "the job spec must be a JSON object")
        #expect(problem("{") ?? "" == "the job spec is not valid JSON; send an object such as {\"workers\": 1, \"item_list\": {\"items\": [1, 2], \"batch_size\": 1}}")
        #expect(problem(#"{"workers": 2}"#, kind: .taskAPI) == "workers: a TaskAPI job runs one worker (got 2)")
        #expect(problem(#"{"item_list": {"items": [1], "batch_size": 1}}"#, kind: .taskAPI) == "item_list: a TaskAPI job takes no input; give its settings in config")
    }

    @Test func delimitedFilesNameTheFileAndLineOfABadLine() throws {
        let folder = try TemporaryDirectory()
        let good = folder.path + "/a.jsonl"
        let bad = folder.path + "/b.jsonl"
        try Data("{\"x\": 1}\n\n[2]\n".utf8).write(to: URL(fileURLWithPath: good))
        try Data("3\n{oops\n".utf8).write(to: URL(fileURLWithPath: bad))
        let batches = try JobInputReader.read(.delimitedFiles(paths: [good], includes: [], excludes: [], batchSize: 1))
        #expect(batches.map { String(decoding: $0.payload, as: UTF8.self) } == [#"[{"x":1}]"#, "[[2]]"])
        #expect(throws: JobSpecError("delimited_files: \(bad), line 2: not a JSON value")) {
            try JobInputReader.read(.delimitedFiles(paths: [folder.path], includes: ["*.jsonl"], excludes: [], batchSize: 5))
        }
        #expect(throws: JobSpecError("file_path_lister.file_paths: \(folder.path)/missing does not exist (on the machine running tern serve)")) {
            try JobInputReader.read(.filePathLister(paths: [folder.path + "/missing"], includes: [], excludes: [], batchSize: 5))
        }
        let listed = try JobInputReader.read(.filePathLister(paths: [folder.path], includes: [], excludes: ["*/b.*"], batchSize: 5))
        #expect(listed.map { String(decoding: $0.payload, as: UTF8.self) } == [#"["\#(good)"]"#])
    }
}
