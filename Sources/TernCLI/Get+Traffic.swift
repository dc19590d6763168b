import Foundation
import TernCore

/// How `tern get` prints traffic, prediction monitoring and cost (``APIDocument/traffic``,
/// ``APIDocument/predictions``, ``APIDocument/cost``): `-` where there is nothing to show.
enum TrafficFormat {
    /// The columns of `tern get`'s API table, from NAME to ENDPOINT; the cost columns only when
    /// `withCost` (the server has prices).
    static func header(withCost: Bool) -> [String] {
        ["NAME", "STATUS", "UP-TO-DATE", "REQUESTED", "READY", "IN-FLIGHT", "LAST UPDATE", "REQ/S", "P50", "P99",
         "2XX", "4XX", "5XX"] + (withCost ? ["COST/H", "COST/1K"] : []) + ["ENDPOINT"]
    }

    /// One API's row under ``header(withCost:)``, its age measured at `now`.
    static func row(_ api: APIDocument, withCost: Bool, now: Date) -> [String] {
        let traffic = api.traffic
        let totals = traffic?.totalResponses
        let p50: String = traffic?.latencyP50Ms.map(milliseconds) ?? "-"
        let p99: String = traffic?.latencyP99Ms.map(milliseconds) ?? "-"
        let counts: [String] = [totals?.success, totals?.clientError, totals?.serverError].map { count in
            count.map(String.init) ?? "-"
        }
        var row: [String] = [
            api.name, api.status.rawValue, api.upToDateReplicas.map(String.init) ?? "-", String(api.requestedReplicas),
            String(api.readyReplicas), String(api.inFlight), age(of: api.updatedAt, now: now),
            traffic.map { rate($0.requestRate) } ?? "-", p50, p99,
        ]
        row += counts
        if withCost {
            row += [api.cost.map { money($0.perHour) } ?? "-", api.cost?.per1000Predictions.map(money) ?? "-"]
        }
        return row + [api.endpoint]
    }

    /// Time since `date` as Cortex's `last update` printed it: `45s`, `17m`, `3h`, `2d`.
    static func age(of date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86_400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }

    /// Requests per second with two decimals, e.g. `0.38`.
    static func rate(_ value: Double) -> String { String(format: "%.2f", value) }

    /// A latency in ms as `0.42ms`, `3.2ms`, `123ms` or `1.25s`.
    static func milliseconds(_ value: Double) -> String {
        switch value {
        case ..<1: return String(format: "%.2fms", value)
        case ..<10: return String(format: "%.1fms", value)
        case ..<1000: return String(format: "%.0fms", value)
        default: return String(format: "%.2fs", value / 1000)
        }
    }

    /// A price with 2 decimals from 1 up, else 4 significant figures at most (`0.03`, `0.0217`).
    static func money(_ value: Double) -> String {
        value >= 1 ? String(format: "%.2f", value) : String(format: "%.4g", value)
    }

    /// A number as it reads best: integral without a fraction, else up to 4 significant digits.
    static func number(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    /// The lines `tern get NAME` adds for traffic and cost (none for an API without either).
    static func detailLines(_ api: APIDocument) -> [String] {
        var lines: [String] = []
        if let traffic = api.traffic {
            let latencies = traffic.latencyP50Ms.map { ", p50 \(milliseconds($0)), p99 \(milliseconds(traffic.latencyP99Ms ?? $0))" } ?? ""
            let window = traffic.responses
            let total = traffic.totalResponses
            lines.append("requests:  \(rate(traffic.requestRate))/s\(latencies) over the last \(traffic.windowSeconds)s; 2XX \(window.success), 4XX \(window.clientError), 5XX \(window.serverError)")
            lines.append("           since the server started: 2XX \(total.success), 4XX \(total.clientError), 5XX \(total.serverError)")
        } else {
            lines.append("requests:  none since the server started")
        }
        if let cost = api.cost {
            let per1000 = cost.per1000Predictions.map { ", \(money($0)) per 1,000 predictions" } ?? ""
            lines.append("cost:      \(money(cost.perHour)) per hour (\(cost.replicas) replica\(cost.replicas == 1 ? "" : "s"))\(per1000)")
        }
        return lines
    }

    /// `tern get NAME`'s prediction monitoring block: the class table of a classifier, the
    /// figures of a regressor.
    static func predictionLines(_ predictions: PredictionSummary) -> [String] {
        let key = predictions.key.map { ", key \($0)" } ?? ""
        var lines = [
            "predictions (\(predictions.modelType.rawValue)\(key), last \(predictions.windowSeconds)s): \(predictions.count) read, \(predictions.unreadable) unreadable"
                + (predictions.skipped > 0 ? ", \(predictions.skipped) skipped (a sample)" : ""),
        ]
        switch predictions.modelType {
        case .classification:
            let classes = (predictions.classes ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            guard !classes.isEmpty else { break }
            lines.append(
                renderTable(
                    header: ["CLASS", "COUNT", "SHARE"],
                    rows: classes.map { label, count in
                        [label, "\(count)", String(format: "%.1f%%", Double(count) * 100 / Double(max(1, predictions.count)))]
                    }))
        case .regression:
            guard let min = predictions.min, let max = predictions.max, let mean = predictions.mean else { break }
            lines.append(
                "count \(predictions.count), min \(number(min)), max \(number(max)), mean \(number(mean)), "
                    + "p50 \(predictions.p50.map(number) ?? "-"), p99 \(predictions.p99.map(number) ?? "-")")
        }
        return lines
    }

    /// Uptime as `45s`, `12m30s`, `3h05m` or `2d4h`; `-` when not ready.
    static func uptime(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let whole = Int(seconds)
        switch whole {
        case ..<60: return "\(whole)s"
        case ..<3600: return "\(whole / 60)m\(String(format: "%02d", whole % 60))s"
        case ..<86_400: return "\(whole / 3600)h\(String(format: "%02d", whole % 3600 / 60))m"
        default: return "\(whole / 86_400)d\(whole % 86_400 / 3600)h"
        }
    }
}
