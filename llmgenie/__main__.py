from llmgenie.cli.main import entry

entry()
