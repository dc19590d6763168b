import TernCore
import Testing

/// C23: invalid API names are rejected when the config is loaded, with the rule spelled out.
@Suite struct APINameTests {
    static let rule =
        #"an API name is a DNS-1035 label: lower-case letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63 characters"#

    @Test(arguments: [
        ("my_api", #""my_api" is not a valid API name: "_" is not allowed; "#),
        ("My-Api", #""My-Api" is not a valid API name: upper-case letters are not allowed; "#),
        ("-api", #""-api" is not a valid API name: it must start with a letter; "#),
        ("1api", #""1api" is not a valid API name: it must start with a letter; "#),
        ("api-", #""api-" is not a valid API name: it must end with a letter or digit; "#),
        (
            String(repeating: "a", count: 64),
            #""\#(String(repeating: "a", count: 64))" is not a valid API name: it is 64 characters long; "#
        ),
        ("api name", #""api name" is not a valid API name: a space is not allowed; "#),
        ("ápi", #""ápi" is not a valid API name: "á" is not allowed; "#),
        ("api/../x", #""api/../x" is not a valid API name: "/" is not allowed; "#),
        ("", "the API name is empty; "),
    ])
    func invalidNameIsRejectedWithTheRule(name: String, problem: String) {
        #expect(APIName.validate(name) == problem + Self.rule)
        #expect(
            configIssues(realtimeAPI("\"\(name)\"")) == [#"tern.yaml:1: api "\#(name)": name: "# + problem + Self.rule])
    }

    @Test(arguments: ["healthz", "metrics", "v1", "v2", "readyz"])
    func namesOfTernsOwnRoutesAreReserved(name: String) {
        #expect(
            configIssues(realtimeAPI(name)) == [
                #"tern.yaml:1: api "\#(name)": name: "\#(name)" is reserved for Tern's own routes (healthz, metrics, readyz, v1, v2); choose another name"#
            ])
    }

    @Test(arguments: ["iris", "a", "iris-classifier-2", String(repeating: "a", count: 63)])
    func validNamesPass(name: String) {
        #expect(APIName.validate(name) == nil)
    }

    @Test func sameNameTwiceInOneFileIsRejected() {
        let issues = configIssues(realtimeAPI("iris") + realtimeAPI("iris", "  networking: {endpoint: /other}"))
        #expect(
            issues == [
                #"tern.yaml:5: api "iris": name: "iris" is already the name of the API on line 1; API names must be unique"#
            ])
    }

    @Test func nameThatIsNotAStringIsAWrongType() {
        #expect(configIssues(realtimeAPI("123")) == [#"tern.yaml:1: name: expected a string, got integer 123"#])
    }
}
