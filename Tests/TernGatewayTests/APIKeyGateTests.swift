import HTTPTypes
import NIOCore
import Synchronization
import TernCore
import Testing

@testable import TernGateway

/// The gateway's key check (``APIKeyGate``): which header carries the key, and what is admitted.
@Suite struct APIKeyGateTests {
    private func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    @Test func thePresentedKeyComesFromBearerElseXAPIKey() {
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "Bearer k1")])) == "k1")
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "bearer k1")])) == "k1")
        #expect(APIKeyGate.presentedKey(in: fields([("X-API-Key", "k2")])) == "k2")
        #expect(APIKeyGate.presentedKey(in: fields([("x-api-key", "k2")])) == "k2")
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "Bearer k1"), ("X-API-Key", "k2")])) == "k1")
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "Basic dXNlcjpwdw=="), ("X-API-Key", "k2")])) == "k2")
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "Basic dXNlcjpwdw==")])) == nil)
        #expect(APIKeyGate.presentedKey(in: fields([("Authorization", "Bearer ")])) == nil)
        #expect(APIKeyGate.presentedKey(in: fields([("X-API-Key", "")])) == nil)
        #expect(APIKeyGate.presentedKey(in: fields([])) == nil)
    }

    @Test func anAPIWithoutAuthAdmitsEveryRequest() {
        let gate = APIKeyGate(auth: .none)
        #expect(gate.check(fields([])) == .admitted)
        #expect(gate.check(fields([("Authorization", "Bearer whatever")])) == .admitted)
    }

    @Test func anAPIWithAuthAdmitsOnlyItsCurrentKeys() {
        let gate = APIKeyGate(auth: .apiKey)
        let key = APIKeys.generate(), other = APIKeys.generate()
        #expect(gate.check(fields([("Authorization", "Bearer \(key)")])) == .unauthorized, "no key pushed yet: closed")
        gate.setKeys([GatewayKey(digest: APIKeys.digest(key.utf8)), GatewayKey(digest: APIKeys.digest(other.utf8))])
        #expect(gate.check(fields([("Authorization", "Bearer \(key)")])) == .admitted)
        #expect(gate.check(fields([("X-API-Key", other)])) == .admitted)
        #expect(gate.check(fields([("X-API-Key", key + "x")])) == .unauthorized)
        #expect(gate.check(fields([])) == .unauthorized)
        gate.setKeys([GatewayKey(digest: APIKeys.digest(other.utf8))])  // key revoked
        #expect(gate.check(fields([("Authorization", "Bearer \(key)")])) == .unauthorized)
        #expect(gate.check(fields([("X-API-Key", other)])) == .admitted)
        gate.configure(.none)  // redeployed without auth
        #expect(gate.check(fields([])) == .admitted)
    }

    /// A clock the test moves (seconds).
    private final class TestClock: Sendable {
        let seconds = Mutex<Double>(1000)
        func advance(by step: Double) { seconds.withLock { $0 += step } }
        var now: @Sendable () -> Double { { [self] in seconds.withLock { $0 } } }
    }

    @Test func aLimitedKeyGetsItsBurstThen429sWhileAnotherKeyIsUnaffected() {
        let clock = TestClock()
        let gate = APIKeyGate(auth: .apiKey, now: clock.now)
        let limited = APIKeys.generate(), free = APIKeys.generate()
        let limit = RateLimit(requests: 5, per: .second, burst: 5)
        gate.setKeys([GatewayKey(digest: APIKeys.digest(limited.utf8), rateLimit: limit), GatewayKey(digest: APIKeys.digest(free.utf8))])
        let limitedFields = fields([("X-API-Key", limited)])
        #expect((0..<5).map { _ in gate.check(limitedFields) } == Array(repeating: .admitted, count: 5))
        #expect(gate.check(limitedFields) == .rateLimited(retryAfter: 1, limit: limit))
        #expect(gate.check(fields([("Authorization", "Bearer \(limited)")])) == .rateLimited(retryAfter: 1, limit: limit),
                "the limit is the key's, whichever header carries it")
        #expect((0..<100).allSatisfy { _ in gate.check(fields([("X-API-Key", free)])) == .admitted }, "a key without a limit")
        #expect(gate.check(fields([("X-API-Key", limited + "x")])) == .unauthorized, "a wrong key is 401, not 429")
        clock.advance(by: 0.2)
        #expect(gate.check(limitedFields) == .admitted, "one token back after 0.2 s")
        #expect(gate.check(limitedFields) == .rateLimited(retryAfter: 1, limit: limit))
        clock.advance(by: 10)
        #expect((0..<6).map { _ in gate.check(limitedFields) } == Array(repeating: .admitted, count: 5) + [.rateLimited(retryAfter: 1, limit: limit)])
    }

    @Test func bucketsSurviveAKeyRefreshForUnchangedKeys() {
        let clock = TestClock()
        let gate = APIKeyGate(auth: .apiKey, now: clock.now)
        let first = APIKeys.generate(), second = APIKeys.generate()
        let limit = RateLimit(requests: 2, per: .minute, burst: 2)
        let firstKey = GatewayKey(digest: APIKeys.digest(first.utf8), rateLimit: limit)
        gate.setKeys([firstKey])
        #expect(gate.check(fields([("X-API-Key", first)])) == .admitted)
        #expect(gate.check(fields([("X-API-Key", first)])) == .admitted)
        #expect(gate.check(fields([("X-API-Key", first)])) == .rateLimited(retryAfter: 30, limit: limit))
        // A second key is created: the first keeps its empty bucket, the second starts full.
        gate.setKeys([firstKey, GatewayKey(digest: APIKeys.digest(second.utf8), rateLimit: limit)])
        #expect(gate.check(fields([("X-API-Key", first)])) == .rateLimited(retryAfter: 30, limit: limit))
        #expect(gate.check(fields([("X-API-Key", second)])) == .admitted)
        // The same key pushed with another limit starts again with a full bucket of that limit.
        let wider = RateLimit(requests: 3, per: .minute, burst: 3)
        gate.setKeys([GatewayKey(digest: APIKeys.digest(first.utf8), rateLimit: wider)])
        #expect((0..<4).map { _ in gate.check(fields([("X-API-Key", first)])) }
                == [.admitted, .admitted, .admitted, .rateLimited(retryAfter: 20, limit: wider)])
        #expect(gate.check(fields([("X-API-Key", second)])) == .unauthorized, "revoked")
    }

    @Test func theRateLimitRefusalIs429JSONWithRetryAfter() throws {
        let clock = TestClock()
        let gate = APIKeyGate(auth: .apiKey, now: clock.now)
        let key = APIKeys.generate()
        gate.setKeys([GatewayKey(digest: APIKeys.digest(key.utf8), rateLimit: RateLimit(requests: 1, per: .hour, burst: 1))])
        #expect(gate.refusal(for: fields([("X-API-Key", key)]), api: "iris") == nil)
        let answer = try #require(gate.refusal(for: fields([("X-API-Key", key)]), api: "iris"))
        #expect(answer.status == 429)
        #expect(answer.headers[.retryAfter] == "3600")
        #expect(answer.headers[.contentType] == "application/json")
        #expect(String(buffer: answer.body)
                == #"{"error":{"kind":"rate_limited","message":"this API key's rate limit of 1/h is used up; retry after 3600 s","api":"iris"}}"#)
        let v2 = try #require(gate.refusal(for: fields([("X-API-Key", key)]), api: "iris", shape: .openInference))
        #expect(String(buffer: v2.body).hasPrefix(#"{"error":"this API key's rate limit of 1/h is used up"#))
        #expect(String(buffer: v2.body).hasSuffix(#","kind":"rate_limited","api":"iris"}"#))
        let unauthorized = try #require(gate.refusal(for: fields([]), api: "iris"))
        #expect(unauthorized.status == 401)
    }

    @Test func theRefusalIs401JSONWithWWWAuthenticate() {
        let answer = APIKeyGate.refusal(api: "iris")
        #expect(answer.status == 401)
        #expect(answer.headers[.wwwAuthenticate] == "Bearer")
        let body = String(buffer: answer.body)
        #expect(body.hasPrefix(#"{"error":{"kind":"unauthorized","message":"API iris needs an API key"#))
        #expect(body.hasSuffix(#","api":"iris"}}"#))
    }
}
