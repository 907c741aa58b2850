"""Evaluation (docs/evaluation.md §1): evaluate (the rule: a method on a speaker's dev clips -> JSON), metrics (L2,
lip-sync error, FTD, diversity, PCK, beat consistency, L1 diversity, and their aggregation over seeds), paper_tables
(the rule: the paper's Tables 1-3 beside its published numbers, and every evaluation)."""
