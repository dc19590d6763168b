import Yams

/// `autoscaling` and `update_strategy`.
extension APISpecParser {
    mutating func parseAutoscaling(_ entry: YAMLMapping, predictor: PredictorSpec?) -> AutoscalingSpec {
        let slots = predictor?.slotsPerReplica ?? 1
        var spec = AutoscalingSpec(targetReplicaConcurrency: Double(slots))
        let section = reader.section("autoscaling", in: entry, allowed: ConfigKeys.autoscaling)
        let replicaLimit = AutoscalingSpec.replicaLimit
        let maxConcurrency = AutoscalingSpec.maxReplicaConcurrencyLimit
        let maxPeriod = AutoscalingSpec.maxPeriodMs
        if let section {
            spec.minReplicas = reader.read("min_replicas", in: section, .between(0, replicaLimit)) ?? spec.minReplicas
            spec.maxReplicas = reader.read("max_replicas", in: section, .between(1, replicaLimit)) ?? spec.maxReplicas
            spec.initReplicas = reader.read("init_replicas", in: section, .between(0, replicaLimit)) ?? spec.minReplicas
            spec.targetReplicaConcurrency =
                reader.read(
                    "target_replica_concurrency", in: section,
                    .between(AutoscalingSpec.minTargetReplicaConcurrency, Double(maxConcurrency)), format: formatNumber)
                ?? spec.targetReplicaConcurrency
            spec.maxReplicaConcurrency =
                reader.read("max_replica_concurrency", in: section, .between(1, maxConcurrency))
                ?? spec.maxReplicaConcurrency
            spec.windowMs = readDuration("window", in: section, .greaterThan(0, atMost: maxPeriod)) ?? spec.windowMs
            spec.downscaleStabilizationPeriodMs =
                readDuration("downscale_stabilization_period", in: section, .between(0, maxPeriod))
                ?? spec.downscaleStabilizationPeriodMs
            spec.upscaleStabilizationPeriodMs =
                readDuration("upscale_stabilization_period", in: section, .between(0, maxPeriod))
                ?? spec.upscaleStabilizationPeriodMs
            spec.maxDownscaleFactor =
                reader.read("max_downscale_factor", in: section, .atLeast(0, below: 1), format: formatNumber)
                ?? spec.maxDownscaleFactor
            spec.maxUpscaleFactor =
                reader.read(
                    "max_upscale_factor", in: section, .greaterThan(1, atMost: AutoscalingSpec.maxUpscaleFactorLimit),
                    format: formatNumber)
                ?? spec.maxUpscaleFactor
            spec.downscaleTolerance =
                reader.read("downscale_tolerance", in: section, .atLeast(0, below: 1), format: formatNumber)
                ?? spec.downscaleTolerance
            spec.upscaleTolerance =
                reader.read(
                    "upscale_tolerance", in: section, .between(0, AutoscalingSpec.maxUpscaleToleranceLimit),
                    format: formatNumber)
                ?? spec.upscaleTolerance
        }
        checkReplicas(spec, section)
        checkConcurrency(spec, section, entry: entry, slots: slots)
        return spec
    }

    /// min ≤ max, and init in [min, max].
    private mutating func checkReplicas(_ spec: AutoscalingSpec, _ section: YAMLMapping?) {
        guard let section,
            !["min_replicas", "max_replicas", "init_replicas"].contains(where: { failed($0, in: section) })
        else { return }
        let (min, max) = (section.path("min_replicas"), section.path("max_replicas"))
        if spec.minReplicas > spec.maxReplicas {
            reader.report(
                "\(spec.minReplicas) must not exceed \(max) (\(spec.maxReplicas))", at: min,
                line: section.valueLine("min_replicas"))
        } else if section.has("init_replicas"), !(spec.minReplicas...spec.maxReplicas).contains(spec.initReplicas) {
            reader.report(
                "\(spec.initReplicas) must be between \(min) (\(spec.minReplicas)) and \(max) (\(spec.maxReplicas))",
                at: section.path("init_replicas"), line: section.valueLine("init_replicas"))
        }
    }

    /// target ≤ max_replica_concurrency, and a batch fits into a replica.
    private mutating func checkConcurrency(
        _ spec: AutoscalingSpec, _ section: YAMLMapping?, entry: YAMLMapping, slots: Int
    ) {
        let target = "autoscaling.target_replica_concurrency"
        let max = "autoscaling.max_replica_concurrency"
        guard !reader.hasIssue(at: target), !reader.hasIssue(at: max) else { return }
        let fallbackLine = section?.line ?? entry.line("predictor")
        if spec.targetReplicaConcurrency > Double(spec.maxReplicaConcurrency) {
            if section?.has("target_replica_concurrency") == true {
                reader.report(
                    "\(formatNumber(spec.targetReplicaConcurrency)) must not exceed \(max) "
                        + "(\(spec.maxReplicaConcurrency))",
                    at: target, line: section?.valueLine("target_replica_concurrency"))
            } else {
                let limit = AutoscalingSpec.maxReplicaConcurrencyLimit
                let remedy =
                    slots > limit
                    ? "lower predictor.processes_per_replica or predictor.threads_per_process (\(max) is at most "
                        + "\(limit)) or set target_replica_concurrency"
                    : "raise max_replica_concurrency to at least \(slots) or set target_replica_concurrency"
                reader.report(
                    "\(spec.maxReplicaConcurrency) is less than \(target), which defaults to "
                        + "predictor.processes_per_replica × predictor.threads_per_process (\(slots)); \(remedy)",
                    at: max, line: section?.valueLine("max_replica_concurrency") ?? fallbackLine)
            }
        }
        let batchPath = "predictor.server_side_batching.max_batch_size"
        if let maxBatchSize, maxBatchSize > spec.maxReplicaConcurrency {
            reader.report(
                "\(maxBatchSize) must not exceed \(max) (\(spec.maxReplicaConcurrency)): a batch is "
                    + "sent to one replica",
                at: batchPath, line: maxBatchSizeLine)
        }
    }

    private func failed(_ key: String, in section: YAMLMapping) -> Bool {
        reader.hasIssue(at: section.path(key))
    }

    // MARK: update_strategy

    mutating func parseUpdateStrategy(_ entry: YAMLMapping) -> UpdateStrategySpec {
        var spec = UpdateStrategySpec()
        guard let section = reader.section("update_strategy", in: entry, allowed: ConfigKeys.updateStrategy) else {
            return spec
        }
        let expected = "a replica count or percentage"
        spec.maxSurge =
            reader.read("max_surge", in: section, expected: expected, parse: Self.replicaCount) ?? spec.maxSurge
        spec.maxUnavailable =
            reader.read("max_unavailable", in: section, expected: expected, parse: Self.replicaCount)
            ?? spec.maxUnavailable
        let bothZero = [spec.maxSurge, spec.maxUnavailable].allSatisfy { $0 == .count(0) || $0 == .percent(0) }
        if bothZero, !failed("max_surge", in: section), !failed("max_unavailable", in: section) {
            let key = section.has("max_unavailable") ? "max_unavailable" : "max_surge"
            reader.report(
                "\(section.path("max_surge")) and \(section.path("max_unavailable")) must not both be 0: "
                    + "a rolling update could not replace any replica",
                at: section.path(key), line: section.valueLine(key))
        }
        return spec
    }

    /// `2` → `.count(2)`, `25%` → `.percent(25)`; negative counts, counts above
    /// ``AutoscalingSpec/replicaLimit`` and percentages above 100% are rejected.
    static func replicaCount(_ text: String) throws(ValueProblem) -> ReplicaCount {
        let isPercent = text.hasSuffix("%")
        let digits = isPercent ? text.dropLast() : Substring(text)
        let isDigits = !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
        if isDigits, Int(digits) == nil {
            throw ValueProblem(
                description: "\"\(text)\" is out of range: give a count between 0 and "
                    + "\(AutoscalingSpec.replicaLimit) or a percentage between 0% and 100%")
        }
        guard isDigits, let value = Int(digits) else {
            let negative = digits.first == "-" && Int(digits.dropFirst()) != nil
            throw ValueProblem(
                description: negative
                    ? "\"\(text)\" is negative; give 0 or more"
                    : "\"\(text)\" is not a replica count: give a number of replicas (e.g. 1) or a percentage "
                        + "of the desired replicas (e.g. 25%)")
        }
        guard isPercent else {
            guard value <= AutoscalingSpec.replicaLimit else {
                throw ValueProblem(
                    description: "\"\(text)\" is out of range: a count must be between 0 and "
                        + "\(AutoscalingSpec.replicaLimit), the most replicas an API can have")
            }
            return .count(value)
        }
        guard value <= 100 else { throw ValueProblem(description: "\"\(text)\" is more than 100%") }
        return .percent(value)
    }
}
