"""The interfaces: the CLI, the REST API and the MCP server. Each parses, calls the task service
in `llmgenie.flows.service`, and renders."""
