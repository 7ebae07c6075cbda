"""JSON schemas shipped with llmgenie (SARIF 2.1.0), read with importlib.resources."""
