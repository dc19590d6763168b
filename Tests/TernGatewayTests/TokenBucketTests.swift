import TernCore
import Testing

@testable import TernGateway

/// The rate limit's decision (``TokenBucket``), on chosen times: no sleeps.
@Suite struct TokenBucketTests {
    /// Takes `count` tokens at `now` and returns the decisions.
    private func take(_ bucket: inout TokenBucket, _ count: Int, at now: Double) -> [TokenBucket.Decision] {
        (0..<count).map { _ in bucket.take(now: now) }
    }

    @Test func aFullBucketAllowsItsBurstAtOnceThenRefuses() {
        var bucket = TokenBucket(capacity: 5, refillPerSecond: 5, now: 100)
        #expect(take(&bucket, 5, at: 100) == Array(repeating: .allowed, count: 5))
        #expect(bucket.take(now: 100) == .limited(retryAfter: 1))
        #expect(bucket.tokens == 0)
    }

    @Test func itRefillsAtItsRateUpToItsCapacity() {
        var bucket = TokenBucket(capacity: 4, refillPerSecond: 2, now: 0)
        _ = take(&bucket, 4, at: 0)
        #expect(bucket.take(now: 0.25) == .limited(retryAfter: 1), "half a token after 0.25 s")
        #expect(bucket.take(now: 0.5) == .allowed, "one token after 0.5 s")
        #expect(bucket.take(now: 0.5) == .limited(retryAfter: 1))
        // A long idle time fills it to its capacity, not beyond.
        #expect(take(&bucket, 5, at: 1000) == [.allowed, .allowed, .allowed, .allowed, .limited(retryAfter: 1)])
        #expect(bucket.tokens == 0)
    }

    @Test func aBurstLargerThanTheRateAllowsMoreAtOnce() {
        var bucket = TokenBucket(RateLimit(requests: 10, per: .second, burst: 20), now: 0)
        #expect(bucket.capacity == 20)
        #expect(bucket.refillPerSecond == 10)
        #expect(take(&bucket, 21, at: 0).filter { $0 == .allowed }.count == 20)
        // Then 10 per second.
        #expect(take(&bucket, 11, at: 1).filter { $0 == .allowed }.count == 10)
    }

    @Test func retryAfterIsTheWaitForOneTokenInWholeSecondsRoundedUpAndAtLeastOne() {
        // 1 per minute: an empty bucket has a token again in 60 s.
        var minute = TokenBucket(RateLimit(requests: 1, per: .minute, burst: 1), now: 0)
        #expect(minute.take(now: 0) == .allowed)
        #expect(minute.take(now: 0) == .limited(retryAfter: 60))
        #expect(minute.take(now: 30) == .limited(retryAfter: 30))
        #expect(minute.take(now: 30.5) == .limited(retryAfter: 30), "29.5 s rounds up to 30")
        #expect(minute.take(now: 59.9) == .limited(retryAfter: 1), "0.1 s rounds up to 1")
        #expect(minute.take(now: 60) == .allowed)
        // 1000 per hour: 3.6 s per token, rounded up to 4.
        var hour = TokenBucket(RateLimit(requests: 1000, per: .hour, burst: 1), now: 0)
        #expect(hour.take(now: 0) == .allowed)
        #expect(hour.take(now: 0) == .limited(retryAfter: 4))
        // 100 per second: a token every 10 ms, still Retry-After 1 (never 0).
        var fast = TokenBucket(RateLimit(requests: 100, per: .second, burst: 1), now: 0)
        #expect(fast.take(now: 0) == .allowed)
        #expect(fast.take(now: 0.001) == .limited(retryAfter: 1))
    }

    @Test func aClockGoingBackwardsRefillsNothingAndIsNotCountedTwice() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 1, now: 10)
        #expect(bucket.take(now: 10) == .allowed)
        #expect(bucket.take(now: 5) == .limited(retryAfter: 1), "5 s back: no refill")
        #expect(bucket.updated == 10, "the bucket's time does not go back")
        #expect(bucket.take(now: 10.5) == .limited(retryAfter: 1), "half a token: only the time after 10 counts")
        #expect(bucket.take(now: 11) == .allowed)
    }

    @Test func refusedRequestsTakeNothing() {
        var bucket = TokenBucket(capacity: 1, refillPerSecond: 1, now: 0)
        #expect(bucket.take(now: 0) == .allowed)
        for time in stride(from: 0.1, to: 1.0, by: 0.1) {
            #expect(bucket.take(now: time) == .limited(retryAfter: 1))
        }
        #expect(bucket.take(now: 1) == .allowed, "the refused tries did not use the refill")
    }
}
