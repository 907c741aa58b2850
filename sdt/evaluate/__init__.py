"""Evaluation (SDT_SPEC 6): evaluate (the rule: a method on a speaker's dev clips -> JSON), metrics (L2, lip-sync
error, FTD, diversity, PCK, and their aggregation over seeds), paper_tables (the rule: the tables of the paper)."""
