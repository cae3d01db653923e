"""Answering a platform's request for information ("needs information"): the person's form and
buttons (`forms`), the `answer` job that sends it once or shows it for a person to pass on
(`send`), what becomes of it (`record`), its words as the channel receives them (`outgoing`,
`files`), and its fate read from its events (`trail`)."""
