"""Platforms' replies from the team's mailbox: read (`reader`, over `imap`), made readable
(`message`), matched to a case (`matching`) and read for an outcome per listing (`classify`,
with the phrase tables in `phrases/`)."""
