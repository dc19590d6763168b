import HTTPTypes
import TernCore

/// The control plane's rules for TrafficSplitters, as pure functions of specs and statuses (the
/// config loader already checked weights, duplicates and shadows; these rules need what is deployed).
enum TrafficSplitRules {
    /// Checks the splitters of the state a deploy of `file` over `deployed` would produce.
    ///
    /// - Every target of a splitter in `file` must be a RealtimeAPI of `file` or, failing that, a
    ///   deployed RealtimeAPI (422 `target_not_found` / `invalid_target`).
    /// - An API of `file` that a deployed splitter (not in `file`) sends traffic to must stay a
    ///   RealtimeAPI (409 `api_in_use`).
    /// Messages name the file, the line (from `lines`, see ``ProjectConfig/lines``; left out when
    /// unknown), the API and the key path: `tern.yaml:9: api "s": apis[1].name: API "b" is not
    /// deployed…`.
    /// - Returns: the first broken rule as an error, or nil when the deploy may go ahead.
    static func check(
        file: [APISpec], deployed: [APISpec], fileName: String, lines: [String: [String: Int]] = [:]
    ) -> ControlPlaneError? {
        let inFile = Dictionary(file.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let wasDeployed = Dictionary(deployed.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func located(_ api: String, _ keyPath: String?, _ message: String) -> String {
            ConfigIssue(
                file: fileName, line: lines[api]?[keyPath ?? "kind"], api: api, keyPath: keyPath, message: message
            ).description
        }
        for splitter in file where splitter.kind == .trafficSplitter {
            for (index, target) in (splitter.trafficSplit ?? []).enumerated() {
                let keyPath = "apis[\(index)].name"
                guard let spec = inFile[target.name] ?? wasDeployed[target.name] else {
                    return ControlPlaneError(
                        status: .unprocessableContent, kind: .targetNotFound,
                        message: located(
                            splitter.name, keyPath,
                            "API \"\(target.name)\" is not deployed and not in \(fileName); deploy it first or add it to the file"),
                        api: splitter.name)
                }
                if spec.kind != .realtimeAPI {
                    return ControlPlaneError(
                        status: .unprocessableContent, kind: .invalidTarget,
                        message: located(
                            splitter.name, keyPath,
                            "API \"\(target.name)\" is a \(spec.kind.rawValue); a TrafficSplitter sends traffic to RealtimeAPIs only"),
                        api: splitter.name)
                }
            }
        }
        for spec in file where spec.kind != .realtimeAPI {
            if let user = users(of: spec.name, in: deployed.filter { inFile[$0.name] == nil }).first {
                return ControlPlaneError(
                    status: .conflict, kind: .apiInUse,
                    message: located(
                        spec.name, nil,
                        "TrafficSplitter \(user.splitter) sends traffic to it (apis[\(user.index)]), so it must stay a RealtimeAPI; change \(user.splitter) first"),
                    api: spec.name)
            }
        }
        return nil
    }

    /// The splitters among `specs` that list `api` as a target, with the target's index in `apis`.
    static func users(of api: String, in specs: [APISpec]) -> [(splitter: String, index: Int)] {
        specs.compactMap { spec in
            guard spec.kind == .trafficSplitter, spec.name != api,
                let index = spec.trafficSplit?.firstIndex(where: { $0.name == api })
            else { return nil }
            return (spec.name, index)
        }
    }

    /// The error refusing `tern delete api` while splitters send traffic to it (409 `api_in_use`),
    /// or nil when none does.
    static func deleteRefusal(of api: String, deployed: [APISpec]) -> ControlPlaneError? {
        let users = users(of: api, in: deployed)
        guard !users.isEmpty else { return nil }
        let names = users.map { "\($0.splitter) (apis[\($0.index)])" }.joined(separator: ", ")
        return ControlPlaneError(
            status: .conflict, kind: .apiInUse,
            message: "API \(api) receives traffic from TrafficSplitter \(names); remove it from the splitter's apis (or delete the splitter) first",
            api: api)
    }

    /// The error for `tern refresh` / `tern logs` (`action`) of a TrafficSplitter, which has no
    /// replicas and no log (422 `no_replicas`, naming its targets); nil for other kinds.
    static func noReplicas(_ spec: APISpec, action: String) -> ControlPlaneError? {
        guard spec.kind == .trafficSplitter else { return nil }
        let targets = (spec.trafficSplit ?? []).map(\.name).joined(separator: ", ")
        return ControlPlaneError(
            status: .unprocessableContent, kind: .noReplicas,
            message: "\(spec.name) is a TrafficSplitter: it has no replicas of its own; use `tern \(action)` on its targets (\(targets))",
            api: spec.name)
    }

    /// A splitter's status from its targets': `live` when every target with a weight above 0 is
    /// live (the shadow does not count: its answers reach no client); otherwise the worst status among them (errors, then `compute unavailable`, then
    /// `updating`, then `scaled to zero`), with a message naming that target. A target the
    /// backend does not report counts as `updating`.
    /// - Parameter statuses: target name → backend status (missing when the backend has none).
    static func status(
        of targets: [TrafficTarget], statuses: [String: BackendAPIStatus]
    ) -> (status: APIStatus, message: String?) {
        var worst: (status: APIStatus, target: String, message: String?)?
        for target in targets where target.weight > 0 && !target.shadow {
            let status = statuses[target.name]?.status ?? .updating
            if status == .live { continue }
            if worst == nil || severity(status) > severity(worst!.status) {
                worst = (status, target.name, statuses[target.name]?.message)
            }
        }
        guard let worst else { return (.live, nil) }
        let reason = worst.message.map { ": \($0)" } ?? ""
        return (worst.status, "target API \(worst.target) is \(worst.status.rawValue)\(reason)")
    }

    /// Higher is worse; any error status is the worst.
    private static func severity(_ status: APIStatus) -> Int {
        switch status {
        case .live: 0
        case .scaledToZero: 1
        case .updating: 2
        case .computeUnavailable: 3
        default: 4
        }
    }
}
