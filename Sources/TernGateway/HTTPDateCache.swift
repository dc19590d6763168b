import Foundation
import Synchronization

/// The `Date` header value (RFC 9110 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once per second.
final class HTTPDateCache: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    /// The current date as a header value.
    var current: String {
        let now = Int(Date().timeIntervalSince1970)
        return cached.withLock { cache in
            if cache.second != now { cache = (now, Self.format(now)) }
            return cache.text
        }
    }

    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `secondsSince1970` as an IMF-fixdate (proleptic Gregorian calendar, UTC; the civil-from-days
    /// algorithm of Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms").
    static func format(_ secondsSince1970: Int) -> String {
        let days = secondsSince1970.floorDiv(86_400)
        let seconds = secondsSince1970 - days * 86_400
        let z = days + 719_468
        let era = z.floorDiv(146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let weekday = Self.days[((days % 7) + 7) % 7]
        return "\(weekday), \(two(day)) \(months[month - 1]) \(year) \(two(seconds / 3600)):\(two(seconds % 3600 / 60)):\(two(seconds % 60)) GMT"
    }
}

extension Int {
    /// Division rounding toward negative infinity.
    fileprivate func floorDiv(_ divisor: Int) -> Int {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
