import Foundation
import TernCore

/// A prediction read from an answer (``PredictionWindow/read(_:monitoring:)``).
enum PredictionValue: Equatable {
    /// A class label (classification).
    case label(String)
    /// A number (regression).
    case number(Double)
}

/// One API's prediction monitoring over a rolling window (default 60 s), as Cortex's
/// `monitoring` showed in `cortex get NAME`: per second, the class counts (classification), or
/// the count, sum, min, max and up to 512 of the values (regression); plus answers whose
/// prediction could not be read and answers skipped. ``summary(at:)`` gives the
/// ``PredictionSummary``.
///
/// A pure value with time as an argument, like ``TrafficWindow``.
struct PredictionWindow {
    /// Regression values kept per second for percentiles; beyond it they are of a sample.
    static let valuesPerSecond = 512
    /// Distinct class labels kept per second and per summary; more count under ``otherClass``.
    static let maxClasses = 100
    /// Where labels beyond ``maxClasses`` are counted.
    static let otherClass = "(other)"
    /// Longest class label kept, in characters; longer ones are cut.
    static let maxLabelLength = 64

    /// Per second.
    struct Second {
        var classes: [String: Int] = [:]
        var values: [Double] = []
        var count = 0
        var sum = 0.0
        var min = Double.infinity
        var max = -Double.infinity
        var unreadable = 0
        var skipped = 0

        mutating func clear() {
            classes.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            count = 0
            sum = 0
            min = .infinity
            max = -.infinity
            unreadable = 0
            skipped = 0
        }
    }

    /// `monitoring` of the API.
    let monitoring: MonitoringSpec
    private var ring: SecondRing<Second>

    /// An empty window of `seconds` seconds for an API with `monitoring`.
    init(monitoring: MonitoringSpec, seconds: Int = 60) {
        self.monitoring = monitoring
        ring = SecondRing(seconds: seconds, empty: Second())
    }

    /// Counts the prediction in `body` (a successful answer) at `now`, or counts it unreadable.
    mutating func record(body: Data, at now: Duration) {
        record(Self.read(body, monitoring: monitoring), at: now)
    }

    /// Counts `value` at `now`; nil counts an unreadable answer. A label for a regression or a
    /// number for a classification is converted as ``read(_:monitoring:)`` does.
    mutating func record(_ value: PredictionValue?, at now: Duration) {
        let second = SecondRing<Second>.second(of: now)
        ring.update(at: second, reset: { $0.clear() }) { bucket in
            switch (value, monitoring.modelType) {
            case (let value?, .classification):
                let label: String
                switch value {
                case .label(let text): label = text
                case .number(let number): label = Self.label(of: number)
                }
                Self.add(label, 1, to: &bucket.classes)
                bucket.count += 1
            case (.number(let number)?, .regression):
                bucket.count += 1
                bucket.sum += number
                bucket.min = Swift.min(bucket.min, number)
                bucket.max = Swift.max(bucket.max, number)
                if bucket.values.count < Self.valuesPerSecond { bucket.values.append(number) }
            case (.label(let text)?, .regression):
                if let number = Double(text), number.isFinite {
                    bucket.count += 1
                    bucket.sum += number
                    bucket.min = Swift.min(bucket.min, number)
                    bucket.max = Swift.max(bucket.max, number)
                    if bucket.values.count < Self.valuesPerSecond { bucket.values.append(number) }
                } else {
                    bucket.unreadable += 1
                }
            case (nil, _):
                bucket.unreadable += 1
            }
        }
    }

    /// Counts `count` answers not read at `now` (more than the reader takes in a second).
    mutating func recordSkipped(_ count: Int, at now: Duration) {
        ring.update(at: SecondRing<Second>.second(of: now), reset: { $0.clear() }) { $0.skipped += count }
    }

    /// The window ending at `now`.
    func summary(at now: Duration) -> PredictionSummary {
        var count = 0, unreadable = 0, skipped = 0
        var classes: [String: Int] = [:]
        var sum = 0.0, low = Double.infinity, high = -Double.infinity
        var weighted: [(value: Double, weight: Double)] = []
        ring.forEach(endingAt: SecondRing<Second>.second(of: now)) { second in
            count += second.count
            unreadable += second.unreadable
            skipped += second.skipped
            for (label, n) in second.classes { Self.add(label, n, to: &classes) }
            sum += second.sum
            low = Swift.min(low, second.min)
            high = Swift.max(high, second.max)
            if !second.values.isEmpty {
                // Each kept value stands for count/kept values of its second.
                let weight = Double(second.count) / Double(second.values.count)
                weighted += second.values.map { ($0, weight) }
            }
        }
        var summary = PredictionSummary(
            modelType: monitoring.modelType, key: monitoring.key, windowSeconds: ring.seconds, count: count,
            unreadable: unreadable, skipped: skipped)
        switch monitoring.modelType {
        case .classification:
            summary.classes = classes
        case .regression where count > 0:
            weighted.sort { $0.value < $1.value }
            summary.min = low
            summary.max = high
            summary.mean = sum / Double(count)
            summary.p50 = Self.quantile(0.5, of: weighted)
            summary.p99 = Self.quantile(0.99, of: weighted)
        case .regression:
            break
        }
        return summary
    }

    /// Adds `count` predictions of `label` to `classes`, under ``otherClass`` when `classes`
    /// holds ``maxClasses`` other labels already.
    static func add(_ label: String, _ count: Int, to classes: inout [String: Int]) {
        let others = classes[otherClass] == nil ? classes.count : classes.count - 1
        let kept = label == otherClass || classes[label] != nil || others < maxClasses
        classes[kept ? label : otherClass, default: 0] += count
    }

    /// The `quantile` of sorted weighted values: the first whose cumulative weight reaches
    /// ⌈quantile × total⌉ (the value of that rank when every weight is 1).
    static func quantile(_ quantile: Double, of sorted: [(value: Double, weight: Double)]) -> Double? {
        let total = sorted.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return nil }
        let rank = Swift.max(1, (quantile * total - 1e-9).rounded(.up))
        var seen = 0.0
        for entry in sorted {
            seen += entry.weight
            if seen >= rank - 1e-9 { return entry.value }
        }
        return sorted.last?.value
    }

    /// A number as a class label: integral ones without a fraction (`1`, not `1.0`).
    static func label(of number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }

    /// The prediction in an answer `body`, as Cortex read it: with `monitoring.key`, the value
    /// of that key of a JSON object; without, the whole answer — a JSON scalar, or else the body
    /// as text (a predictor that returned a `str`). A string is a label (regression: parsed as a
    /// number), a number a number, a boolean the label `true`/`false`; nil for anything else
    /// (not JSON with the key, an array, an object, null, empty or over-long text).
    static func read(_ body: Data, monitoring: MonitoringSpec, decoder: JSONDecoder = JSONDecoder()) -> PredictionValue? {
        let value: JSONValue
        if let key = monitoring.key {
            // Only the key's value is decoded into a JSONValue, not the rest of the object.
            decoder.userInfo[KeyedValue.key] = key
            guard let found = (try? decoder.decode(KeyedValue.self, from: body))?.value else { return nil }
            value = found
        } else if let parsed = try? decoder.decode(JSONValue.self, from: body) {
            value = parsed
        } else {
            guard let text = String(data: body, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                !text.isEmpty, text.count <= 1024
            else { return nil }
            value = .string(text)
        }
        switch value {
        case .string(let text):
            if monitoring.modelType == .regression {
                return Double(text).flatMap { $0.isFinite ? .number($0) : nil }
            }
            return .label(String(text.prefix(maxLabelLength)))
        case .number(let number):
            return number.isFinite ? .number(number) : nil
        case .bool(let flag):
            return monitoring.modelType == .classification ? .label(flag ? "true" : "false") : nil
        case .null, .array, .object:
            return nil
        }
    }
}

/// The value of one key of a JSON object, the key given in the decoder's `userInfo`
/// (``key``); decoding anything but an object fails.
private struct KeyedValue: Decodable {
    /// The `userInfo` entry holding the key (a `String`).
    static let key = CodingUserInfoKey(rawValue: "tern.monitoring.key")!

    /// The key's value; nil when the object does not have it.
    var value: JSONValue?

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let name = decoder.userInfo[Self.key] as? String ?? ""
        value = try decoder.container(keyedBy: Key.self).decodeIfPresent(JSONValue.self, forKey: Key(stringValue: name))
    }
}
