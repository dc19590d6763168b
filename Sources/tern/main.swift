import TernCLI

TernMain.prepare()
await TernMain.run()
