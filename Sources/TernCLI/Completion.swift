import ArgumentParser

extension Tern {
    /// `tern completion SHELL`: the shell completion script ArgumentParser generates for the
    /// whole command tree (`tern --generate-completion-script SHELL`).
    struct Completion: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the shell completion script for bash, zsh or fish.",
            discussion: """
                Examples:
                  source <(tern completion bash)                        # bash, this shell
                  tern completion bash > /etc/bash_completion.d/tern    # bash, every shell
                  tern completion zsh > "${fpath[1]}/_tern"             # zsh (then restart it)
                  tern completion fish > ~/.config/fish/completions/tern.fish
                """)

        /// The shells ArgumentParser writes scripts for.
        enum Shell: String, ExpressibleByArgument, CaseIterable {
            case bash, zsh, fish

            var completionShell: CompletionShell {
                switch self {
                case .bash: .bash
                case .zsh: .zsh
                case .fish: .fish
                }
            }
        }

        @Argument(help: "The shell: bash, zsh or fish.")
        var shell: Shell

        func run() {
            print(Tern.completionScript(for: shell.completionShell), terminator: "")
        }
    }
}
