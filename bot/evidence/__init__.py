"""Evidence: what proves a listing was on sale, kept content-addressed and never overwritten.

`store.py` is where the bytes live (a folder, or an S3-compatible bucket, by `EVIDENCE_URL`);
`storage.evidence` records which case and listing each item belongs to and what it is.
"""
