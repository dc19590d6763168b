import Foundation
import Testing
@testable import TernGateway

/// The `Date` header the fast path writes (IMF-fixdate, RFC 9110 §5.6.7), checked against values
/// from Python's `email.utils.formatdate(t, usegmt=True)`.
struct HTTPDateCacheTests {
    @Test("seconds since 1970 format as IMF-fixdate, leap days and far years included", arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),  // the example of RFC 9110
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_796_038_400, "Mon, 30 Nov 2026 11:33:20 GMT"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func formats(seconds: Int, expected: String) {
        #expect(HTTPDateCache.format(seconds) == expected)
    }

    @Test("the cached value is the current second's")
    func currentIsNow() {
        let cache = HTTPDateCache()
        let before = Int(Date().timeIntervalSince1970)
        let value = cache.current
        let after = Int(Date().timeIntervalSince1970)
        #expect(value == HTTPDateCache.format(before) || value == HTTPDateCache.format(after))
    }
}
