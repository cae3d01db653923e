"""The team's configuration: `schema` (app.yaml's typed shape), `environment` (the process's
variables), `loading` (reading and validating app.yaml), `logs` (logging with secrets redacted)."""
