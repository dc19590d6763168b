import Testing

@testable import TernControlPlane

@Suite struct DotEnvTests {
    @Test(arguments: [
        ("A=1\nB=two", ["A": "1", "B": "two"]),
        ("# a comment\nA=1\n  # indented comment\n#B=2", ["A": "1"]),
        ("\n\nA=1\n\n   \nB=2\n", ["A": "1", "B": "2"]),
        ("export A=1\nexport  B=2", ["A": "1", "B": "2"]),
        ("A=\"hello world\"\nB='single'\nC=\"\"", ["A": "hello world", "B": "single", "C": ""]),
        ("A=\"unbalanced\nB='mixed\"\nC=\"", ["A": "\"unbalanced", "B": "'mixed\"", "C": "\""]),
        ("URL=postgres://u:p@h/db?sslmode=require&x=1", ["URL": "postgres://u:p@h/db?sslmode=require&x=1"]),
        ("A==\nB=x=y=z\nC=\"k=v\"", ["A": "=", "B": "x=y=z", "C": "k=v"]),
        ("  A  =  spaced value  ", ["A": "spaced value"]),
        ("A=\nB", ["A": ""]),
        ("=nokey\nnovalue\nA=1", ["A": "1"]),
        ("A=1\r\nB=2\r\n", ["A": "1", "B": "2"]),
        ("A=first\nA=second", ["A": "second"]),
        ("A=#not a comment", ["A": "#not a comment"]),
        ("exported=1\nexport=2", ["exported": "1", "export": "2"]),
        ("", [:]),
    ])
    func parsesKeyValueLines(text: String, expected: [String: String]) {
        #expect(DotEnv.parse(text) == expected)
    }
}
