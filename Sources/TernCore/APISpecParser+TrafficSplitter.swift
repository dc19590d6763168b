import Yams

/// A TrafficSplitter's `apis`.
extension APISpecParser {
    /// The targets (nil when any is invalid) and, for file-wide checks, each target's name,
    /// key path and line.
    mutating func parseTrafficSplit(_ entry: YAMLMapping, name: String?)
        -> (targets: [TrafficTarget]?, lines: [(name: String, path: String, line: Int?)])
    {
        guard let items = reader.sequence("apis", in: entry) else {
            if !entry.has("apis") {
                reader.reportMissing(
                    "apis", in: entry,
                    what: "the APIs to split traffic between, e.g. apis: [{name: a, weight: 80}, {name: b, weight: 20}]"
                )
            }
            return (nil, [])
        }
        guard !items.isEmpty else {
            reader.report("must list at least one API", at: "apis", line: entry.line("apis"))
            return (nil, [])
        }
        var targets: [TrafficTarget] = []
        var lines: [(name: String, path: String, line: Int?)] = []
        var firstIndex: [String: Int] = [:]
        var shadowIndex: Int?
        for (index, item) in items.enumerated() {
            guard let target = reader.mapping(item, path: "apis[\(index)]", line: item.mark?.line) else { continue }
            reader.checkKeys(target, allowed: ConfigKeys.trafficTarget)
            let targetName: String? = reader.read("name", in: target)
            if let targetName {
                if let problem = APIName.validate(targetName) {
                    reader.report(problem, at: target.path("name"), line: target.valueLine("name"))
                } else if targetName == name {
                    reader.report(
                        "a TrafficSplitter cannot send traffic to itself", at: target.path("name"),
                        line: target.valueLine("name"))
                } else if let first = firstIndex[targetName] {
                    reader.report(
                        "\"\(targetName)\" is already listed in apis[\(first)]; list each API once",
                        at: target.path("name"), line: target.valueLine("name"))
                } else {
                    firstIndex[targetName] = index
                    lines.append((targetName, target.path("name"), target.valueLine("name")))
                }
            } else if !target.has("name") {
                reader.reportMissing("name", in: target, what: "the RealtimeAPI that gets this share of the traffic")
            }
            let weight: Int? = reader.read("weight", in: target, .between(0, 100))
            if !target.has("weight") {
                reader.reportMissing("weight", in: target, what: "the percentage of requests it gets, 0 to 100")
            }
            let shadow: Bool = reader.read("shadow", in: target) ?? false
            if shadow, let first = shadowIndex {
                reader.report(
                    "apis[\(first)] is already the shadow; a TrafficSplitter has at most one shadow",
                    at: target.path("shadow"), line: target.valueLine("shadow"))
            } else if shadow {
                shadowIndex = index
            }
            if let targetName, let weight {
                targets.append(TrafficTarget(name: targetName, weight: weight, shadow: shadow))
            }
        }
        guard targets.count == items.count, reader.issues.allSatisfy({ !($0.keyPath ?? "").hasPrefix("apis") }) else {
            return (nil, lines)
        }
        let total = targets.filter { !$0.shadow }.reduce(0) { $0 + $1.weight }
        if total != 100 {
            reader.report(
                "the weights of apis[*].weight (shadow excluded) add up to \(total); they must add up to 100",
                at: "apis", line: entry.line("apis"))
            return (nil, lines)
        }
        return (targets, lines)
    }
}
