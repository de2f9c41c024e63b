"""Active learning: rank what a person should review next.

- `strategies`: uncertainty scores over probability tables (least confidence, margin, entropy,
  vote entropy, KL to consensus, random) and a deterministic ranking.
- `diversity`: keep near-duplicates out of one batch (similarity is a parameter).
- `textclf`: TF-IDF + logistic regression, cold start, batch selection.
- `ner`: token classifier on approved spans plus weak-source disagreement.
- `detection`: per-image scores from box confidences; predictions readers.
- `query`: run a query on a store (a `query.run` decision plus the review queue).
- `gold`, `simulate`: a simulated labeling loop against gold labels.

Nothing here imports textual or opens anything at import time.
"""
