"""The MCP server: llmgenie's tools for Cursor, VS Code and other MCP clients."""
