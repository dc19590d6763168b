import Foundation
import TernCore

/// The spec file handed to `python -m tern_runtime --spec` (docs/replica-protocol.md).
struct RuntimeSpec: Encodable {
    struct Predictor: Encodable {
        var type: String
        var path: String
        var config: JSONValue
        var pythonPath: String?
        var processesPerReplica: Int
        var threadsPerProcess: Int

        enum CodingKeys: String, CodingKey {
            case type, path, config
            case pythonPath = "python_path"
            case processesPerReplica = "processes_per_replica"
            case threadsPerProcess = "threads_per_process"
        }
    }
    var apiName: String
    var projectDir: String
    var predictor: Predictor

    enum CodingKeys: String, CodingKey {
        case predictor
        case apiName = "api_name"
        case projectDir = "project_dir"
    }

    init(deployment: Deployment) {
        let predictor = deployment.spec.predictor
        apiName = deployment.spec.name
        projectDir = deployment.projectDirectory
        self.predictor = Predictor(
            type: predictor?.type.rawValue ?? "python", path: predictor?.path ?? "predictor.py",
            config: predictor?.config ?? .object([:]), pythonPath: predictor?.pythonPath,
            processesPerReplica: predictor?.processesPerReplica ?? 1,
            threadsPerProcess: predictor?.threadsPerProcess ?? 1)
    }

    func encoded() throws -> Data {
        try JSONEncoder().encode(self)
    }
}
