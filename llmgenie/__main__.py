from llmgenie.cli.main import main

main()
