"""Transactional checking after Elle (Kingsbury & Alvaro, VLDB 2021), kept in three
separate steps as Elle keeps them:

- `infer`: history → transactions, each key's version order, the anomalies that need no
  cycle (aborted and intermediate reads, garbage, duplicates, internal inconsistency,
  incompatible orders, lost appends) and the dependency graph (ww, wr, rw, process and
  real-time edges);
- `cycles`: graph → strongly connected components → one shortest cycle of each kind
  found in each (G0, G1c, G-single, G2-item, and their -process and -realtime variants);
- `explain`: cycle → words (which transaction, which key, which read or write makes each
  edge).

`consistency` says which anomalies each consistency model prohibits. The checker that
wires them together is `harness.checkers.list_append`.
"""
