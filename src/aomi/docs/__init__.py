"""An App's documents: reading, chunking, ingest and full-text search (`search_docs`)."""
