import TernCLI

await TernMain.run()
