"""leadflow: CLI, configuration and the runtime that starts the pipeline's processes."""
