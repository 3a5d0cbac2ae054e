"""The API contract: subjects, schemas, error codes, access rules. No I/O."""
