"""What each person has to do next, derived from documents, signatures and cases (no state of its own)."""
