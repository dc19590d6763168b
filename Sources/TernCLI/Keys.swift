import ArgumentParser
import Foundation
import TernClient
import TernCore

extension Tern {
    /// `tern keys`: the keys of APIs with `networking.auth: api_key` (docs/security.md).
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list and revoke the keys of APIs with networking.auth: api_key.",
            discussion: """
                A key is shown once, when it is created; the server keeps only its SHA-256. \
                Clients send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`. A revoked key \
                is refused from the next request on. A key may have a rate limit (a token bucket \
                in the gateway: over it, 429 with Retry-After). `tern delete API` deletes its \
                keys. See docs/security.md.

                Examples:
                  tern keys create iris
                  tern keys create iris --rate-limit 10/s --burst 20
                  tern keys list
                  tern keys list iris -o json
                  tern keys revoke key_0123456789abcdef
                """,
            subcommands: [Create.self, List.self, Revoke.self], defaultSubcommand: List.self)

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a key for an API and print it (only this once).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The API's name.")
            var name: String
            @Option(
                help: ArgumentHelp(
                    "Limit the key to REQUESTS per second, minute or hour (10/s, 600/m, 1000/h); unlimited when not given.",
                    valueName: "REQUESTS/PERIOD"))
            var rateLimit: String?
            @Option(help: "With --rate-limit: requests allowed at once (the bucket's size; default: the rate's REQUESTS).")
            var burst: Int?
            @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
            var output: OutputFormat = .table

            func validate() throws {
                _ = try limit()
            }

            /// The rate limit the options give; nil without `--rate-limit`.
            /// - Throws: `ValidationError` for a malformed rate, bounds, or `--burst` alone.
            func limit() throws -> RateLimit? {
                guard let rateLimit else {
                    if burst != nil { throw ValidationError("--burst needs --rate-limit (e.g. --rate-limit 10/s --burst 20)") }
                    return nil
                }
                do {
                    return try RateLimit.parse(rateLimit, burst: burst)
                } catch let invalid as RateLimit.Invalid {
                    throw ValidationError("--rate-limit: \(invalid.message)")
                }
            }

            func run() async throws {
                let created = try await global.client().createKey(name, rateLimit: try limit())
                if output != .table { return Terminal.standardOutput.line(try output.encoded(created)) }
                Terminal.standardOutput.line(created.key)
                let limit = created.document.rateLimit.map { ", rate limit \($0)" } ?? ""
                Terminal.standardError.line(
                    "Created key \(created.document.id) for \(name)\(limit). It is shown only now: store it; "
                        + "send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`.")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List keys (ids and prefixes, never the keys).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Only this API's keys.")
            var name: String?
            @Option(name: .shortAndLong, help: "Output format: table, json or yaml.")
            var output: OutputFormat = .table

            func run() async throws {
                let keys = try await global.client().listKeys(name)
                if output != .table { return Terminal.standardOutput.line(try output.encoded(keys)) }
                Terminal.standardOutput.line(
                    keys.isEmpty
                        ? "No keys. Create one with `tern keys create API`."
                        : renderTable(
                            header: ["ID", "API", "CREATED", "PREFIX", "RATE LIMIT"],
                            rows: keys.map {
                                [$0.id, $0.api, $0.created.formatted(.iso8601), $0.prefix + "…", $0.rateLimit?.description ?? "-"]
                            }))
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a key; it is refused from the next request on.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The key's id (see `tern keys list`).")
            var id: String

            func run() async throws {
                let revoked = try await global.client().revokeKey(id)
                Terminal.standardOutput.line("Revoked key \(revoked.id) of \(revoked.api).")
            }
        }
    }

    /// `tern token`: the control-plane token.
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the control-plane token.",
            discussion: """
                Example:
                  tern token rotate    # a new token; the old one is refused from then on
                """,
            subcommands: [Rotate.self])

        struct Rotate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace the control-plane token; the old one is refused from then on.",
                discussion: """
                    The server writes the new token to its TERN_HOME/token (mode 0600); the tern \
                    CLI on that machine reads it there, so it keeps working. A remote environment \
                    needs the new token: `tern env configure NAME --url URL --token TOKEN`.
                    """)
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let file = try await global.client().rotateToken()
                if try CLIEnvironments.load(home: global.ternHome).resolve(global.env).1 == nil {
                    // Local: the token file was rewritten; check that the server takes the new token.
                    _ = try await ServerConnection.client(home: global.ternHome, autostart: false)
                }
                Terminal.standardOutput.line("Rotated the control-plane token; the new one is in \(file).")
            }
        }
    }
}
