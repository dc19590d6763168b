import ArgumentParser
import TernCore
import Testing

@testable import TernCLI

/// The command line Cortex users type parses into the options it means (issue 12 item 6).
@Suite struct CommandLineTests {
    @Test func deployTakesCortexShortFlagsAndAnEnvironment() throws {
        let deploy = try Tern.Deploy.parse(["cortex.yaml", "-f", "-y", "-e", "prod"])
        #expect(deploy.config == "cortex.yaml")
        #expect(deploy.force)
        #expect(deploy.yes)
        #expect(deploy.global.env == "prod")
        let long = try Tern.Deploy.parse(["--force", "--yes", "--env", "staging"])
        #expect(long.force && long.yes && long.global.env == "staging")
        #expect(try Tern.Deploy.parse([]).global.env == nil)
    }

    @Test func deleteRefreshLogsAndGetTakeCortexFlags() throws {
        let delete = try Tern.Delete.parse(["iris", "-f", "-c"])
        #expect(delete.name == "iris" && delete.force && delete.keepCache)
        #expect(try Tern.Delete.parse(["iris", "--keep-cache"]).keepCache)
        #expect(try Tern.Refresh.parse(["iris", "-f"]).force)
        let logs = try Tern.Logs.parse(["iris", "--random-pod", "-e", "local"])
        #expect(logs.randomPod && logs.global.env == "local")
        #expect(throws: (any Error).self) { try Tern.Logs.parse(["iris", "--random-pod", "--replica", "iris-1"]) }
        #expect(try Tern.Get.parse(["-o", "yaml"]).output == .yaml)
        #expect(try Tern.Describe.parse(["iris", "--lines", "0"]).lines == 0)
        #expect(throws: (any Error).self) { try Tern.Describe.parse(["iris", "--lines", "-1"]) }
    }

    @Test func keysCreateTakesARateLimitAndABurst() throws {
        #expect(try Tern.Keys.Create.parse(["iris"]).limit() == nil)
        #expect(try Tern.Keys.Create.parse(["iris", "--rate-limit", "10/s"]).limit() == RateLimit(requests: 10, per: .second, burst: 10))
        #expect(try Tern.Keys.Create.parse(["iris", "--rate-limit", "600/m", "--burst", "20"]).limit()
                == RateLimit(requests: 600, per: .minute, burst: 20))
        #expect(throws: (any Error).self) { try Tern.Keys.Create.parse(["iris", "--burst", "20"]) }
        #expect(throws: (any Error).self) { try Tern.Keys.Create.parse(["iris", "--rate-limit", "10/d"]) }
        #expect(throws: (any Error).self) { try Tern.Keys.Create.parse(["iris", "--rate-limit", "10/s", "--burst", "0"]) }
    }

    @Test func envConfigureChecksItsArguments() throws {
        let configure = try Tern.Env.Configure.parse(["prod", "--url", "http://10.0.0.5:8889", "--token", "t"])
        #expect(configure.name == "prod" && configure.url == "http://10.0.0.5:8889")
        #expect(throws: (any Error).self) { try Tern.Env.Configure.parse(["local", "--url", "http://h:1", "--token", "t"]) }
        #expect(throws: (any Error).self) { try Tern.Env.Configure.parse(["p", "--url", "ftp://h", "--token", "t"]) }
        #expect(throws: (any Error).self) { try Tern.Env.Configure.parse(["p", "--url", "http://h:1"]) }
        #expect(throws: (any Error).self) {
            try Tern.Env.Configure.parse(["p", "--url", "http://h:1", "--token", "t", "--token-file", "f"])
        }
    }

    @Test func environmentsResolveToLocalByDefaultAndNameTheKnownOnes() throws {
        var environments = CLIEnvironments()
        #expect(try environments.resolve(nil).name == "local")
        #expect(try environments.resolve(nil).remote == nil)
        environments.environments["prod"] = .init(url: "http://10.0.0.5:8889", token: "t")
        environments.defaultEnvironment = "prod"
        #expect(try environments.resolve(nil).remote?.url == "http://10.0.0.5:8889")
        #expect(try environments.resolve("local").remote == nil)
        #expect(throws: CLIError.self) { try environments.resolve("nope") }
        #expect(CLIEnvironments.urlProblem("http://10.0.0.5:8889") == nil)
        #expect(CLIEnvironments.urlProblem("10.0.0.5:8889") != nil)
    }

    @Test func unknownCommandsNameTheNearOne() {
        #expect(TernMain.unknownCommandMessage("gt")?.hasPrefix("Error: unknown command 'gt' (did you mean 'get'?)") == true)
        #expect(TernMain.unknownCommandMessage("descrbe")?.contains("did you mean 'describe'?") == true)
        #expect(TernMain.unknownCommandMessage("get") == nil)
        #expect(TernMain.unknownCommandMessage("env") == nil)
        #expect(TernMain.unknownCommandMessage("--help") == nil)
        #expect(TernMain.unknownCommandMessage("help") == nil)
        #expect(TernMain.unknownCommandMessage(nil) == nil)
    }
}
