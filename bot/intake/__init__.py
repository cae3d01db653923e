"""A report becomes a case: listing URLs recognised (`listings`), short links followed
(`shortlinks`), bulk files read (`bulk`, `upload`), and the case opened (`cases`)."""
