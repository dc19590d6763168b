import TernCore

/// The messages `ConfigLoader` gives for `yaml` (one line per issue), or `[]` when it loads.
func configIssues(_ yaml: String, file: String = "tern.yaml") -> [String] {
    do {
        _ = try ConfigLoader.load(yaml: yaml, fileName: file)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// The one API of `yaml`; fails the caller's expectation via a thrown error when it does not load.
func loadSingleAPI(_ yaml: String) throws -> APISpec {
    let config = try ConfigLoader.load(yaml: yaml, fileName: "tern.yaml")
    guard config.apis.count == 1 else { throw ConfigError(issues: []) }
    return config.apis[0]
}

/// A minimal valid RealtimeAPI named `name` with `predictor` (a flow mapping) followed by
/// `extra` lines (already indented by 2); ends with a newline.
func realtimeAPI(
    _ name: String = "iris", predictor: String = "{type: python, path: predictor.py}", _ extra: String = ""
) -> String {
    """
    - name: \(name)
      kind: RealtimeAPI
      predictor: \(predictor)
    \(extra)

    """
}
