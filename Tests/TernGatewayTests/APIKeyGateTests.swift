import HTTPTypes
import NIOCore
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
        #expect(gate.admits(fields([])))
        #expect(gate.admits(fields([("Authorization", "Bearer whatever")])))
    }

    @Test func anAPIWithAuthAdmitsOnlyItsCurrentKeys() {
        let gate = APIKeyGate(auth: .apiKey)
        let key = APIKeys.generate(), other = APIKeys.generate()
        #expect(!gate.admits(fields([("Authorization", "Bearer \(key)")])), "no key pushed yet: closed")
        gate.setDigests([APIKeys.digest(key.utf8), APIKeys.digest(other.utf8)])
        #expect(gate.admits(fields([("Authorization", "Bearer \(key)")])))
        #expect(gate.admits(fields([("X-API-Key", other)])))
        #expect(!gate.admits(fields([("X-API-Key", key + "x")])))
        #expect(!gate.admits(fields([])))
        gate.setDigests([APIKeys.digest(other.utf8)])  // key revoked
        #expect(!gate.admits(fields([("Authorization", "Bearer \(key)")])))
        #expect(gate.admits(fields([("X-API-Key", other)])))
        gate.configure(.none)  // redeployed without auth
        #expect(gate.admits(fields([])))
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
