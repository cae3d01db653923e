"""Durable work: the worker, the job registry, periodic runs, coalesced loads, Slack side effects
(`notify`), and the short retry layer inside one run (`backoff`)."""
