import Foundation
import TernCore
import TernDigest
import Testing

/// `networking.auth`, the key format and hashing, and the constant-time comparisons.
@Suite struct APIKeysTests {
    @Test func authDefaultsToNoneAndReadsApiKey() throws {
        #expect(try loadSingleAPI(realtimeAPI("iris")).networking.auth == .none)
        #expect(try loadSingleAPI(realtimeAPI("iris", "  networking: {auth: api_key}")).networking.auth == .apiKey)
        #expect(try loadSingleAPI(realtimeAPI("iris", "  networking: {auth: none}")).networking.auth == .none)
    }

    @Test func unknownAuthNamesFileLineAPIKeyAndAllowedValues() {
        #expect(
            configIssues(realtimeAPI("iris", "  networking: {auth: password}")) == [
                #"tern.yaml:4: api "iris": networking.auth: "password" is not an auth mode (allowed: none, api_key)"#
            ])
        #expect(
            configIssues(realtimeAPI("iris", "  networking: {auth: apikey}")) == [
                #"tern.yaml:4: api "iris": networking.auth: "apikey" is not an auth mode (did you mean "api_key"?)"#
            ])
    }

    @Test func apiKeyOnAQueueingAPIIsRefused() {
        let yaml = """
            - name: digits
              kind: BatchAPI
              predictor: {type: python, path: predictor.py}
              networking: {auth: api_key}
            """
        let issues = configIssues(yaml)
        #expect(issues.count == 1)
        #expect(issues.first?.hasPrefix(#"tern.yaml:4: api "digits": networking.auth: api_key is for a RealtimeAPI"#) == true)
    }

    @Test func aSpecStoredBeforeAuthExistedDecodesAsNone() throws {
        let json = #"{"endpoint":"/iris","requestTimeoutMs":500}"#
        let networking = try JSONDecoder().decode(NetworkingSpec.self, from: Data(json.utf8))
        #expect(networking == NetworkingSpec(endpoint: "/iris", requestTimeoutMs: 500, auth: .none))
    }

    @Test func keysAreTernPrefixedHexAndDistinct() {
        let keys = (0..<50).map { _ in APIKeys.generate() }
        #expect(Set(keys).count == 50)
        for key in keys {
            #expect(key.hasPrefix("tern_"))
            #expect(key.count == 5 + 64)
            #expect(key.dropFirst(5).allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(APIKeys.generateID().hasPrefix("key_"))
        #expect(APIKeys.generateID().count == 4 + 16)
    }

    @Test func hashIsSHA256AndItsHexRoundTripsToTheDigest() {
        // FIPS 180-4 example "abc".
        #expect(APIKeys.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKeys.digest(fromHex: APIKeys.hash("abc")) == APIKeys.digest("abc".utf8))
        #expect(APIKeys.digest(fromHex: "zz") == nil)
        #expect(APIKeys.digest(fromHex: String(repeating: "g", count: 64)) == nil)
    }

    @Test func sha256MatchesTheFIPSVectors() {
        #expect(SHA256.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.digest(of: Array("abc".utf8)).count == 32)
    }

    @Test func constantTimeEqualsComparesEveryByte() {
        #expect(ConstantTime.equals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!ConstantTime.equals(Array("Secret".utf8), Array("secret".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secret!".utf8)))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals("tok".utf8, Array("tok".utf8)))
    }

    @Test func isMemberFindsAnyElementOfTheSet() {
        let set = [APIKeys.digest("a".utf8), APIKeys.digest("b".utf8)]
        #expect(ConstantTime.isMember(APIKeys.digest("b".utf8), of: set))
        #expect(ConstantTime.isMember(APIKeys.digest("a".utf8), of: set))
        #expect(!ConstantTime.isMember(APIKeys.digest("c".utf8), of: set))
        #expect(!ConstantTime.isMember(APIKeys.digest("a".utf8), of: []))
    }
}
