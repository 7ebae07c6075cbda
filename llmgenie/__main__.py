from llmgenie.interfaces.cli.main import entry

entry()
