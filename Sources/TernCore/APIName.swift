/// The rule for API names: a DNS-1035 label, so that a name works unchanged as a URL path, a
/// file name, a process label and a Kubernetes object name.
///
/// Lower-case letters, digits and `-`; a letter first; a letter or digit last; 1 to 63
/// characters. Names of Tern's own routes (``reserved``) are not allowed.
public enum APIName {
    /// Longest allowed name.
    public static let maxLength = 63

    /// Names that collide with Tern's own routes.
    public static let reserved: [String] = ["healthz", "metrics", "readyz", "v1", "v2"]

    /// The rule spelled out, as messages end with it.
    public static let rule =
        "an API name is a DNS-1035 label: lower-case letters, digits and \"-\", starting with a letter, "
        + "ending with a letter or digit, at most \(maxLength) characters"

    /// Checks `name`; returns nil when it is valid, otherwise a message that says what is wrong
    /// and spells out the rule, e.g. `"my_api" is not a valid API name: "_" is not allowed; an API
    /// name is a DNS-1035 label: …`.
    public static func validate(_ name: String) -> String? {
        let problem: String
        if name.isEmpty {
            return "the API name is empty; \(rule)"
        } else if let bad = name.first(where: { !isLowerAlphanumeric($0) && $0 != "-" }) {
            problem = bad.isUppercase ? "upper-case letters are not allowed" : "\(quoted(bad)) is not allowed"
        } else if !name.first!.isLetter {
            problem = "it must start with a letter"
        } else if name.last == "-" {
            problem = "it must end with a letter or digit"
        } else if name.count > maxLength {
            problem = "it is \(name.count) characters long"
        } else if reserved.contains(name) {
            return
                "\"\(name)\" is reserved for Tern's own routes (\(reserved.joined(separator: ", "))); "
                + "choose another name"
        } else {
            return nil
        }
        return "\"\(name)\" is not a valid API name: \(problem); \(rule)"
    }

    private static func isLowerAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLowercase || character.isNumber)
    }

    private static func quoted(_ character: Character) -> String {
        character == " " ? "a space" : "\"\(character)\""
    }
}
