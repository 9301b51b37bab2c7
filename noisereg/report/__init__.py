"""The report document: renders the sections the studies give it; knows no study itself."""
