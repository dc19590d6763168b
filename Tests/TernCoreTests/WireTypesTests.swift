import Foundation
import TernCore
import Testing

/// The typed values of the control-plane documents encode as the strings clients already read.
@Suite struct WireTypesTests {
    private func json(_ value: some Encodable) throws -> String {
        String(decoding: try WireJSON.encoder().encode(value), as: UTF8.self)
    }

    @Test func deployActionsEncodeAsTheirBareStrings() throws {
        let result = DeployResult(apis: [
            .init(name: "a", action: .created, revision: 1), .init(name: "b", action: .updated, revision: 3),
            .init(name: "c", action: .unchanged, revision: 2),
        ])
        let text = try json(result)
        #expect(
            text == #"{"apis":[{"action":"created","name":"a","revision":1},{"action":"updated","name":"b","revision":3},"#
                + #"{"action":"unchanged","name":"c","revision":2}]}"#)
        #expect(try WireJSON.decoder().decode(DeployResult.self, from: Data(text.utf8)) == result)
    }

    @Test func anUnknownDeployActionDecodesRatherThanFails() throws {
        let text = #"{"apis":[{"action":"renamed","name":"a","revision":1}]}"#
        let result = try WireJSON.decoder().decode(DeployResult.self, from: Data(text.utf8))
        #expect(result.apis[0].action == DeployResult.Action(rawValue: "renamed"))
    }

    @Test func errorDocumentKindEncodesAsItsString() throws {
        let text = try json(ErrorDocument(kind: .updateInProgress, message: "wait", api: "iris"))
        #expect(text == #"{"error":{"api":"iris","kind":"update_in_progress","message":"wait"}}"#)
        let decoded = try WireJSON.decoder().decode(ErrorDocument.self, from: Data(#"{"error":{"kind":"predictor_error","message":"x"}}"#.utf8))
        #expect(decoded.error.kind == "predictor_error")
    }

    @Test func phaseIsAbsentUnlessSet() throws {
        var document = APIDocument(
            name: "iris", kind: "RealtimeAPI", status: .updating, message: nil, endpoint: "http://h/iris", revision: 1,
            requestedReplicas: 1, readyReplicas: 0, inFlight: 0, replicas: [], updatedAt: Date(timeIntervalSince1970: 0))
        #expect(!(try json(document)).contains("phase"))
        document.phase = .installingDependencies
        #expect(try json(document).contains(#""phase":"installing_dependencies""#))
    }

    @Test(arguments: [
        (APIStatus.error, true), (.errorInitFailed, true), (.errorOutOfMemory, true),
        (APIStatus(rawValue: "error (gpu lost)"), true), (.live, false), (.updating, false),
        (.computeUnavailable, false), (.scaledToZero, false), (APIStatus(rawValue: "errored"), false),
    ])
    func errorStatusesAreErrorOrErrorWithAReason(status: APIStatus, isError: Bool) {
        #expect(status.isError == isError)
    }
}
