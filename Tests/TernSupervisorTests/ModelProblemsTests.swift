import Foundation
import TernCore
import Testing

@testable import TernSupervisor

@Suite struct ModelProblemsTests {
    private let failed =
        "cannot load the model version 2 from /srv/m/2: JSONDecodeError: Expecting value: line 1 column 1 (char 0); serving version 1 of the model as latest"

    private func replica(_ id: String, revision: Int = 1, _ state: ReplicaState, problems: [String] = []) -> ReplicaSnapshot {
        ReplicaSnapshot(
            document: ReplicaDocument(id: id, revision: revision, state: state, pid: 100, restarts: 0, lastExit: nil),
            lastExitCode: nil, lastOutputLine: nil, consecutiveFailures: 0, modelProblems: problems)
    }

    @Test func readsTheMessagesOfEveryWorkerFileOnceInWorkerOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tern-model-problems-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let other = #"cannot load model \"b\" version 4 from /srv/b/4: ValueError: bad; serving version 3 of model \"b\" as latest"#
        try Data(#"{"problems":[{"model":"","version":2,"path":"/srv/m/2","message":"\#(failed)"}]}"#.utf8)
            .write(to: folder.appendingPathComponent("model-problems-0.json"))
        try Data(#"{"problems":[{"model":"","version":2,"message":"\#(failed)"},{"model":"b","version":4,"message":"\#(other)"}]}"#.utf8)
            .write(to: folder.appendingPathComponent("model-problems-1.json"))
        try Data("{not json".utf8).write(to: folder.appendingPathComponent("model-problems-2.json"))
        try Data(#"{"problems":[{"message":"ignored"}]}"#.utf8).write(to: folder.appendingPathComponent("model-problems-0.json.tmp"))

        #expect(
            ModelProblems.read(socketDirectory: folder.path)
                == [failed, #"cannot load model "b" version 4 from /srv/b/4: ValueError: bad; serving version 3 of model "b" as latest"#])
        #expect(ModelProblems.read(socketDirectory: folder.path + "/missing") == [])
        #expect(ModelProblems.messages(in: Data(#"{"problems":[]}"#.utf8)) == [])
    }

    @Test func aLiveAPIShowsAFailedReloadOnceThoughEveryReplicaReportsIt() {
        let status = StatusDeriver.derive(
            api: "m", requested: 2,
            current: [replica("m-1", .ready, problems: [failed]), replica("m-2", .ready, problems: [failed])],
            previous: [])
        #expect(status.status == .live)
        #expect(status.message == failed)
    }

    @Test func noProblemMeansNoMessage() {
        let status = StatusDeriver.derive(api: "m", requested: 1, current: [replica("m-1", .ready)], previous: [])
        #expect(status.status == .live)
        #expect(status.message == nil)
    }

    @Test func anUpdatingAPIShowsTheProblemsOfItsServingReplicas() {
        let status = StatusDeriver.derive(
            api: "m", requested: 1, current: [replica("m-2", revision: 2, .starting)],
            previous: [replica("m-1", .ready, problems: [failed])])
        #expect(status.status == .updating)
        #expect(status.message == failed)
    }
}
