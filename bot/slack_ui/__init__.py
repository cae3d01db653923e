"""Block Kit builders and the checks a Slack surface needs: escaping, forms, case and thread
messages, notice blocks, help; and who may do what (`access`). No database, no platform calls."""
