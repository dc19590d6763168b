import Foundation
import Testing
import TernCore
import TernTesting

extension EndToEnd {
    /// The Python client (`python/tern`, and `cortex` under Cortex's names) against a live server,
    /// installed with pip into a fresh virtual environment (issue 12 item 7).
    @Suite(.serialized, .sharedServer())
    struct PythonClient {
        @Test("pip install ./python gives `import tern` and `import cortex`; deploy, list, get, predict, refresh and delete work against the server")
        func clientDrivesALiveServer() async throws {
            let server = try Shared.require()
            let scratch = try scratchDirectory(in: server)
            let venv = scratch.appendingPathComponent("venv")
            let created = try runCommand(TestEnvironment.python, ["-m", "venv", venv.path])
            try #require(created.status == 0, "venv: \(created.stderr)")
            let python = venv.appendingPathComponent("bin/python").path
            let install = try runCommand(
                python,
                ["-m", "pip", "install", "--quiet", "--no-deps",
                 TestEnvironment.packageRoot.appendingPathComponent("python").path],
                directory: scratch)
            try #require(install.status == 0, "pip install: \(install.stdout)\(install.stderr)")
            let config = TestEnvironment.fixture("echo").appendingPathComponent("tern.yaml").path
            let script = """
                import json, sys
                import tern, cortex
                home, binary, config = sys.argv[1:4]
                client = tern.client(home=home, tern_binary=binary)
                out = {}
                out["deploy"] = client.deploy(config, wait=True, timeout=60)["apis"]
                out["names"] = [api["name"] for api in client.list_apis()]
                out["status"] = client.get_api("echo")["status"]
                out["predict"] = client.predict("echo", {"hello": "python"})
                out["text"] = client.predict("echo", "plain words")
                try:
                    client.get_api("nope")
                except tern.TernError as error:
                    out["missing"] = [error.status, error.kind]
                try:
                    tern.client("nowhere", home=home)
                except tern.TernError as error:
                    out["unknown_env"] = str(error)
                cx = cortex.client(home=home)
                out["cortex_same"] = cx.get_api("echo")["name"]
                client.refresh("echo")
                client.delete("echo")
                out["after_delete"] = [api["name"] for api in client.list_apis()]
                print(json.dumps(out))
                """
            let run = try runCommand(
                python, ["-c", script, server.home.path, TestEnvironment.ternBinary, config], directory: scratch)
            try #require(run.status == 0, "client script: \(run.stdout)\(run.stderr)")
            let out = try jsonObject(run.stdout)
            let deployed = try #require(out["deploy"] as? [[String: Any]])
            #expect(deployed.first?["name"] as? String == "echo")
            #expect(deployed.first?["action"] as? String == "created")
            #expect(deployed.first?["revision"] as? Int == 1)
            #expect((out["names"] as? [String])?.contains("echo") == true)
            #expect(out["status"] as? String == "live")
            #expect((out["predict"] as? [String: Any])?["hello"] as? String == "python")
            #expect((out["text"] as? [String: Any])?["text"] as? String == "plain words")
            #expect((out["missing"] as? [Any])?.first as? Int == 404)
            #expect((out["missing"] as? [Any])?.last as? String == "not_found")
            #expect((out["unknown_env"] as? String)?.contains("unknown environment 'nowhere' (known: local)") == true)
            #expect(out["cortex_same"] as? String == "echo")
            #expect((out["after_delete"] as? [String])?.contains("echo") == false)
        }
    }
}
